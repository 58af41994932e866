"""The public list, GET /posts: published posts with their authors, in one statement per page.

Rows of columns, not ORM objects: nothing in a list needs an object, and loading each post and
author as an object is the largest cost a page would have (bench/ceiling.py measures the rest).
The columns are named one by one, in the answer's order; where the answer has a file's URL, the
column is the one holding the file's name. tests/test_public_list.py fails if a field that the
schemas grow is missing here, and checks the list answers what GET /posts/{id} does.
"""

from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, or_, select
from sqlalchemy.orm import Session

from app.core.models import utcnow
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.posts.models import Post, PostTag
from app.posts.schemas import PostWithAuthor
from app.uploads.storage import public_url
from app.users.models import User
from app.users.schemas import UserPublic

# Table columns rather than ORM attributes: rows of a Core statement skip the ORM's loading.
POSTS, USERS, POST_TAGS = Post.__table__, User.__table__, PostTag.__table__
AUTHOR_PREFIX = "author__"

POST_COLUMNS = (
    POSTS.c.id,
    POSTS.c.slug,
    POSTS.c.title,
    POSTS.c.content,
    POSTS.c.content_html,
    POSTS.c.excerpt,
    POSTS.c.reading_time_minutes,
    POSTS.c.tags,
    POSTS.c.published,
    POSTS.c.published_at,
    POSTS.c.author_id,
    POSTS.c.cover_name,
    POSTS.c.comment_count,
    POSTS.c.created_at,
    POSTS.c.updated_at,
)
AUTHOR_COLUMNS = tuple(
    column.label(AUTHOR_PREFIX + column.name)
    for column in (USERS.c.id, USERS.c.name, USERS.c.bio, USERS.c.avatar_name, USERS.c.created_at)
)


def newest_first(stmt: Select[Any]) -> Select[Any]:
    # id breaks ties between posts created in the same microsecond, so pages never overlap.
    return stmt.order_by(POSTS.c.created_at.desc(), POSTS.c.id.desc())


def newest_published_first(stmt: Select[Any]) -> Select[Any]:
    return stmt.order_by(POSTS.c.published_at.desc(), POSTS.c.id.desc())


def is_public() -> ColumnElement[bool]:
    """Published, and not scheduled for later: what anyone may read."""
    return POSTS.c.published.is_(True) & (POSTS.c.published_at <= utcnow())


def _matching(q: str) -> ColumnElement[bool]:
    """Case-insensitive substring over title and content; %, _ and the escape char are literal."""
    needle = q.lower()
    return or_(
        func.lower(POSTS.c.title).contains(needle, autoescape=True),
        func.lower(POSTS.c.content).contains(needle, autoescape=True),
    )


def tagged(tag: str) -> ColumnElement[bool]:
    """The post has tag `tag` (normalised): post_tags' (name, post_id) index answers it."""
    return POSTS.c.id.in_(select(POST_TAGS.c.post_id).where(POST_TAGS.c.name == tag))


def published_query(
    *, author_id: int | None = None, q: str | None = None, tag: str | None = None
) -> tuple[Select[Any], Select[Any]]:
    """The public list's statements: a page's rows (each post with its author's public fields,
    newest first, one statement whatever per_page is) and the posts to count. bench/ceiling.py
    runs them too, to compare like with like."""
    conditions: list[ColumnElement[bool]] = [is_public()]
    if author_id is not None:
        conditions.append(POSTS.c.author_id == author_id)
    if q:
        conditions.append(_matching(q))
    if tag is not None:
        conditions.append(tagged(tag))
    rows = select(*POST_COLUMNS, *AUTHOR_COLUMNS).select_from(
        POSTS.join(USERS, USERS.c.id == POSTS.c.author_id)
    )
    return newest_published_first(rows.where(*conditions)), select(POSTS.c.id).where(*conditions)


def author_of(row: Row[Any]) -> UserPublic:
    """The author of a row that has AUTHOR_COLUMNS (a post's, a comment's)."""
    author = row._mapping
    return UserPublic(
        id=author[AUTHOR_PREFIX + "id"],
        name=author[AUTHOR_PREFIX + "name"],
        bio=author[AUTHOR_PREFIX + "bio"],
        avatar_url=public_url(author[AUTHOR_PREFIX + "avatar_name"]),
        created_at=author[AUTHOR_PREFIX + "created_at"],
    )


def _post_with_author(row: Row[Any]) -> PostWithAuthor:
    post = row._mapping
    return PostWithAuthor(
        id=post["id"],
        slug=post["slug"],
        title=post["title"],
        content=post["content"],
        content_html=post["content_html"],
        excerpt=post["excerpt"],
        reading_time_minutes=post["reading_time_minutes"],
        tags=post["tags"],
        published=post["published"],
        published_at=post["published_at"],
        author_id=post["author_id"],
        cover_image_url=public_url(post["cover_name"]),
        comment_count=post["comment_count"],
        created_at=post["created_at"],
        updated_at=post["updated_at"],
        author=author_of(row),
    )


def list_published(
    session: Session,
    *,
    params: PageParams,
    author_id: int | None = None,
    q: str | None = None,
    tag: str | None = None,
) -> Page[PostWithAuthor]:
    rows, counted = published_query(author_id=author_id, q=q, tag=tag)
    return paginate(session, rows, params, transform=_post_with_author, count=counted)
