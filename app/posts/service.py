"""Posts: drafts private to their author, ownership, search, pages in constant queries."""

from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from app.core.errors import NotFoundError, PermissionDeniedError
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.posts.models import Post
from app.posts.schemas import PostCreate, PostPublic, PostUpdate, PostWithAuthor
from app.uploads import guard as upload_guard
from app.uploads import service as uploads
from app.uploads.storage import Storage, public_url
from app.users.models import User
from app.users.schemas import UserPublic

POST_NOT_FOUND = "Post not found"

# Table columns rather than ORM attributes where a statement should stay plain Core (the public
# list below): rows of a Core statement skip the ORM's loading machinery.
POSTS, USERS = Post.__table__, User.__table__


def _newest_first(stmt: Select[Any]) -> Select[Any]:
    # id breaks ties between posts created in the same microsecond, so pages never overlap.
    return stmt.order_by(POSTS.c.created_at.desc(), POSTS.c.id.desc())


def _matching(q: str) -> ColumnElement[bool]:
    """Case-insensitive substring over title and content; %, _ and the escape char are literal."""
    needle = q.lower()
    return or_(
        func.lower(POSTS.c.title).contains(needle, autoescape=True),
        func.lower(POSTS.c.content).contains(needle, autoescape=True),
    )


def create_post(session: Session, author: User, data: PostCreate) -> Post:
    post = Post(author_id=author.id, **data.model_dump())
    session.add(post)
    session.commit()
    return post


# --- the public list -----------------------------------------------------------------------------
# Rows of columns, not ORM objects: nothing in a list needs an object, and loading a page of posts
# and their authors as objects cost a sixth of GET /posts' throughput (bench). The columns are the
# response's fields that are stored; tests/test_posts.py checks that none is left out, should the
# models or the schemas grow.
# Fields that are a stored file's URL come from the column holding the file's name.
FILE_URL_COLUMNS = {"cover_image_url": "cover_name", "avatar_url": "avatar_name"}
AUTHOR_PREFIX = "author__"


def _columns_for(fields: dict[str, Any], table: Any) -> list[str]:
    names = [FILE_URL_COLUMNS.get(field, field) for field in fields]
    return [name for name in names if name in table.c]


POST_COLUMNS = tuple(POSTS.c[name] for name in _columns_for(PostPublic.model_fields, POSTS))
AUTHOR_COLUMNS = tuple(
    USERS.c[name].label(AUTHOR_PREFIX + name)
    for name in _columns_for(UserPublic.model_fields, USERS)
)


def published_query(
    *, author_id: int | None = None, q: str | None = None
) -> tuple[Select[Any], Select[Any]]:
    """The public list's statements: a page's rows (each post with its author's public fields,
    newest first, one statement whatever per_page is) and the posts to count. bench/ceiling.py
    runs them too, to compare like with like."""
    conditions = [POSTS.c.published.is_(True)]
    if author_id is not None:
        conditions.append(POSTS.c.author_id == author_id)
    if q:
        conditions.append(_matching(q))
    rows = select(*POST_COLUMNS, *AUTHOR_COLUMNS).select_from(
        POSTS.join(USERS, USERS.c.id == POSTS.c.author_id)
    )
    return _newest_first(rows.where(*conditions)), select(POSTS.c.id).where(*conditions)


def _post_with_author(row: Row[Any]) -> PostWithAuthor:
    post: dict[str, Any] = {}
    author: dict[str, Any] = {}
    for key, value in row._mapping.items():
        if key.startswith(AUTHOR_PREFIX):
            author[key[len(AUTHOR_PREFIX) :]] = value
        else:
            post[key] = value
    post["cover_image_url"] = public_url(post.pop("cover_name"))
    author["avatar_url"] = public_url(author.pop("avatar_name"))
    return PostWithAuthor.model_validate({**post, "author": author})


def list_published(
    session: Session, params: PageParams, *, author_id: int | None = None, q: str | None = None
) -> Page[PostWithAuthor]:
    rows, counted = published_query(author_id=author_id, q=q)
    return paginate(session, rows, params, transform=_post_with_author, count=counted)


# --- one author's posts, one post ----------------------------------------------------------------


def list_own(
    session: Session, author: User, params: PageParams, *, published: bool | None = None
) -> Page[PostPublic]:
    stmt = select(Post).where(Post.author_id == author.id)
    if published is not None:
        stmt = stmt.where(Post.published.is_(published))
    return paginate(session, _newest_first(stmt), params, transform=PostPublic.model_validate)


def _visible_to(post: Post, viewer: User | None) -> bool:
    """The one rule for reads and changes alike: a draft exists only for its author."""
    return post.published or (viewer is not None and viewer.id == post.author_id)


def get_visible(session: Session, post_id: int, viewer: User | None) -> Post:
    """A post as `viewer` may see it: a draft exists only for its author (404 for anyone else)."""
    post = session.scalar(select(Post).options(joinedload(Post.author)).where(Post.id == post_id))
    if post is None or not _visible_to(post, viewer):
        raise NotFoundError(POST_NOT_FOUND)
    return post


def get_for_change(session: Session, post_id: int, user: User, *, admin_ok: bool = True) -> Post:
    """A post `user` may change: its author, or an admin (when `admin_ok`) on a published post.
    Visibility comes first: someone else's draft is 404 to everyone, admins included, so a
    PATCH or DELETE can neither read nor publish nor remove what a GET would not show."""
    post = session.get(Post, post_id)
    if post is None or not _visible_to(post, user):
        raise NotFoundError(POST_NOT_FOUND)
    if post.author_id == user.id:
        return post
    if admin_ok and user.is_admin:
        return post
    raise PermissionDeniedError("Only the author can change this post")


def update_post(session: Session, post: Post, data: PostUpdate) -> Post:
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(post, field, value)
    session.commit()
    return post


def delete_post(session: Session, storage: Storage, post: Post) -> None:
    # Locked and read afresh, as a cover upload does: a cover set since `post` was loaded is
    # removed too, not left on disk without its row.
    upload_guard.lock_post(session, post)
    cover = post.cover_name
    if cover:
        uploads.delete_rows(session, [cover])
    session.delete(post)
    session.commit()
    uploads.remove_files(storage, [cover])
