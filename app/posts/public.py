"""The public list, GET /posts: published posts with their authors, in one statement per page.

Rows of columns, not ORM objects: nothing in a list needs an object, and loading each post and
author as an object is the largest cost a page would have (bench/ceiling.py measures the rest).
The columns are named one by one, in the answer's order; where the answer has a file's URL, the
column is the one holding the file's name. tests/test_public_list.py fails if a field that the
schemas grow is missing here, and checks the list answers what GET /posts/{id} does.
No models either: the page's JSON is written from the rows (`list_published`), and the route sends
those bytes as they are.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from pydantic_core import to_json
from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    exists,
    select,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from app.core import driver_reads
from app.core.database import standalone_reads
from app.core.driver_reads import DriverRead
from app.core.models import utcnow
from app.core.pagination import PageParams, count_query, page_fields
from app.posts import counts, search
from app.posts.models import Post, PostTag
from app.uploads.storage import public_url
from app.users.models import User
from app.users.schemas import UserPublic

# Table columns rather than ORM attributes: rows of a Core statement skip the ORM's loading.
POSTS, USERS, POST_TAGS = Post.__table__, User.__table__, PostTag.__table__
AUTHOR_PREFIX = "author__"
# The column carrying the list's total in each row, when a counter holds it (app/posts/counts.py).
TOTAL = "list_total__"

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


def is_public(now: Any = None) -> ColumnElement[bool]:
    """Published, and not scheduled for later: what anyone may read (at `now`, a time or a bound
    parameter; by default the current time)."""
    # `= true`, not `IS TRUE`: MariaDB reads only an equality as a constant prefix of the index
    # (published, published_at, id), and without one it sorted every visible post per page.
    return (POSTS.c.published == true()) & (
        POSTS.c.published_at <= (utcnow() if now is None else now)
    )


@dataclass(frozen=True)
class PageQuery:
    """One page of the public list: `rows` (with the total as the column TOTAL when a counter
    holds it or, for a search, the page's statement counts it), and `total`, the statement
    counting when the page cannot tell (no rows); both executed with `parameters`."""

    rows: Select[Any]
    total: Select[Any]
    total_in_rows: bool
    parameters: dict[str, Any] = field(default_factory=dict)


# The list's values, bound rather than built into the statements: a list without `q` has one
# statement per backend and filter shape, built once (building it cost more than running it).
NOW = bindparam("list_now", type_=POSTS.c.published_at.type)
AUTHOR_ID = bindparam("list_author_id", type_=POSTS.c.author_id.type)
TAG = bindparam("list_tag", type_=POST_TAGS.c.name.type)
COUNTER_KEY = bindparam("list_counter_key", type_=String())
LIMIT = bindparam("list_limit", type_=Integer())
OFFSET = bindparam("list_offset", type_=Integer())
# A list without `q` writes its LIMIT and OFFSET into the SQL: PostgreSQL keeps one plan for a
# prepared statement only if that plan is as good as one made for the values, and a LIMIT it
# cannot see made it plan a join of every row (so it planned every execution anew).
LITERAL_LIMIT = bindparam("list_limit", type_=Integer(), literal_execute=True)
LITERAL_OFFSET = bindparam("list_offset", type_=Integer(), literal_execute=True)
VARIABLES = (NOW.key, AUTHOR_ID.key, TAG.key, COUNTER_KEY.key)
LITERALS = (LIMIT.key, OFFSET.key)


def _ids(backend: str, *, author_id: Any, tag: Any, q: str | None) -> Select[Any]:
    """The ids of the matching public posts, newest first, from an index alone where one fits:
    a page is then a short index range, however deep it is, and only its rows are read."""
    if tag is not None and author_id is None and not q:
        # post_tags keeps its post's published_at (null unless published): one index range.
        return (
            select(POST_TAGS.c.post_id.label("id"))
            .where(POST_TAGS.c.name == tag, POST_TAGS.c.published_at <= NOW)
            .order_by(POST_TAGS.c.published_at.desc(), POST_TAGS.c.post_id.desc())
        )
    conditions: list[ColumnElement[bool]] = [is_public(NOW)]
    if author_id is not None:
        conditions.append(POSTS.c.author_id == author_id)
    if tag is not None:
        conditions.append(
            exists().where(POST_TAGS.c.post_id == POSTS.c.id, POST_TAGS.c.name == tag)
        )
    if q:
        conditions.append(search.matching(q, backend))
    return newest_published_first(select(POSTS.c.id).where(*conditions))


def _statements(
    backend: str, *, by_author: bool, by_tag: bool, q: str | None
) -> tuple[Select[Any], Select[Any], bool]:
    author_id, tag = (AUTHOR_ID if by_author else None), (TAG if by_tag else None)
    ids = _ids(backend, author_id=author_id, tag=tag, q=q)
    # A search the index answers alone (SQLite) counts its matches in the pass finding its page:
    # finding them is what a search costs.
    alone = search.public_page(q, backend, TOTAL) if q and not (by_author or by_tag) else None
    limit, offset = (LIMIT, OFFSET) if q else (LITERAL_LIMIT, LITERAL_OFFSET)
    page = (ids if alone is None else alone).limit(limit).offset(offset).subquery("page")
    counted = not q and not (by_author and by_tag)
    kept = None
    if counted:
        kind = counts.AUTHOR if by_author else counts.TAG if by_tag else counts.ALL
        kept = counts.counted_total(kind, COUNTER_KEY, NOW, author_id=author_id, tag=tag)
    total = select(kept) if kept is not None else count_query(ids)
    rows = select(*POST_COLUMNS, *AUTHOR_COLUMNS).select_from(
        page.join(POSTS, POSTS.c.id == page.c.id).join(USERS, USERS.c.id == POSTS.c.author_id)
    )
    if alone is not None:
        rows = rows.add_columns(page.c[TOTAL])
    elif kept is not None:
        rows = rows.add_columns(kept.label(TOTAL))
    return newest_published_first(rows), total, alone is not None or kept is not None


_built = lru_cache(maxsize=32)(partial(_statements, q=None))


@lru_cache(maxsize=32)
def _driver_reads(dialect: Dialect, by_author: bool, by_tag: bool) -> tuple[DriverRead, DriverRead]:
    """A list without `q`, its rows and its total, compiled once for `dialect`."""
    rows, total, _ = _built(dialect.name, by_author=by_author, by_tag=by_tag)
    return (
        DriverRead(rows, dialect, variables=VARIABLES, literals=LITERALS),
        DriverRead(total, dialect, variables=VARIABLES),
    )


def page_query(
    backend: str,
    params: PageParams,
    *,
    author_id: int | None = None,
    tag: str | None = None,
    q: str | None = None,
) -> PageQuery:
    """The public list's statements: a page's rows (each post with its author's public fields,
    newest first, one statement whatever per_page is) and its total. The page's ids come first
    (a deferred join), then only those rows are read. bench/ceiling.py runs them too."""
    shape = {"by_author": author_id is not None, "by_tag": tag is not None}
    rows, total, in_rows = _statements(backend, **shape, q=q) if q else _built(backend, **shape)
    parameters: dict[str, Any] = {
        NOW.key: utcnow(),
        LIMIT.key: params.per_page,
        OFFSET.key: params.offset,
        AUTHOR_ID.key: author_id,
        TAG.key: tag,
        COUNTER_KEY.key: str(author_id) if author_id is not None else tag or "",
    }
    return PageQuery(rows, total, in_rows, parameters)


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


# Row positions: POST_COLUMNS then AUTHOR_COLUMNS (then the total, when the row carries it).
_ITEM_COLUMNS = len(POST_COLUMNS) + len(AUTHOR_COLUMNS)


def _item(row: Sequence[Any]) -> dict[str, Any]:
    """A row as PostWithAuthor serialises it: the fields in the model's order (the columns'),
    the file names made URLs. No model is built: the columns already have the fields' types, and
    building models cost more than reading the rows (tests/posts/test_list_json.py compares these
    bytes with the models')."""
    (
        post_id,
        slug,
        title,
        content,
        content_html,
        excerpt,
        reading_time_minutes,
        tags,
        published,
        published_at,
        author_id,
        cover_name,
        comment_count,
        created_at,
        updated_at,
        user_id,
        name,
        bio,
        avatar_name,
        joined,
    ) = row[:_ITEM_COLUMNS]
    return {
        "id": post_id,
        "slug": slug,
        "title": title,
        "content": content,
        "content_html": content_html,
        "excerpt": excerpt,
        "reading_time_minutes": reading_time_minutes,
        "tags": tags,
        "published": published,
        "published_at": published_at,
        "author_id": author_id,
        "cover_image_url": public_url(cover_name),
        "comment_count": comment_count,
        "created_at": created_at,
        "updated_at": updated_at,
        "author": {
            "id": user_id,
            "name": name,
            "bio": bio,
            "avatar_url": public_url(avatar_name),
            "created_at": joined,
        },
    }


def newest_rows(
    session: Session, *, limit: int, author_id: int | None = None, tag: str | None = None
) -> list[Row[Any]]:
    """The `limit` newest public posts' rows with their authors (the feed's), through the same
    index paths as the list's first page."""
    backend = session.get_bind().dialect.name
    query = page_query(backend, PageParams(1, limit), author_id=author_id, tag=tag)
    return list(session.execute(query.rows, query.parameters).all())


def list_published(
    session: Session,
    *,
    params: PageParams,
    author_id: int | None = None,
    tag: str | None = None,
    q: str | None = None,
) -> bytes:
    """The page's JSON, byte for byte what FastAPI would send for it as a PostWithAuthorPage
    (pydantic-core's serialiser, which the models use too, over plain dicts). It needs no
    transaction (autocommit on PostgreSQL: app.core.driver_reads, database.standalone_reads):
    the page's rows carry its total, or a second statement counts it, which under READ
    COMMITTED had a snapshot of its own anyway."""
    dialect = session.get_bind().dialect
    query = page_query(dialect.name, params, author_id=author_id, tag=tag, q=q)
    rows: Sequence[Sequence[Any]]
    if q:
        reads = standalone_reads(session)
        rows = reads.execute(query.rows, query.parameters).all()
        count: Callable[[], Any] = partial(reads.scalar, query.total, query.parameters)
    else:
        # Built once, run on the driver's cursor (app.core.driver_reads): the statement costs
        # less than SQLAlchemy's execution of it would.
        rows_read, total_read = _driver_reads(dialect, author_id is not None, tag is not None)
        rows = driver_reads.fetch(session, rows_read, query.parameters)

        def count() -> Any:
            return driver_reads.fetch(session, total_read, query.parameters)[0][0]

    if query.total_in_rows and rows:
        total = int(rows[0][_ITEM_COLUMNS])
    elif params.page == 1 and len(rows) < params.per_page:
        total = len(rows)  # the first page holds everything there is
    else:
        total = int(count() or 0)
    return to_json(page_fields([_item(row) for row in rows], total, params))
