"""The naive public list the scale bench compares Quill with: count(*) of every visible row for
`total`, LIMIT/OFFSET over the joined rows for the page, LIKE for `q` — the statements GET /posts
ran before issue 13, frozen here so the comparison does not move when Quill's own query does."""

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select

from app.core.models import utcnow
from app.posts.models import PostTag
from app.posts.public import AUTHOR_COLUMNS, POST_COLUMNS, POSTS, USERS

TAGS = PostTag.__table__


def statements(
    *, author_id: int | None = None, tag: str | None = None, q: str | None = None
) -> tuple[Select[Any], Select[Any]]:
    """(the page's rows, newest first; the count of all matching rows)."""
    conditions: list[ColumnElement[bool]] = [
        POSTS.c.published.is_(True),
        POSTS.c.published_at <= utcnow(),
    ]
    if author_id is not None:
        conditions.append(POSTS.c.author_id == author_id)
    if tag is not None:
        conditions.append(exists().where(TAGS.c.post_id == POSTS.c.id, TAGS.c.name == tag))
    if q:
        needle = q.lower()
        conditions.append(
            or_(
                func.lower(POSTS.c.title).contains(needle, autoescape=True),
                func.lower(POSTS.c.content).contains(needle, autoescape=True),
            )
        )
    rows = (
        select(*POST_COLUMNS, *AUTHOR_COLUMNS)
        .select_from(POSTS.join(USERS, USERS.c.id == POSTS.c.author_id))
        .where(*conditions)
        .order_by(POSTS.c.published_at.desc(), POSTS.c.id.desc())
    )
    counted = select(func.count()).select_from(select(POSTS.c.id).where(*conditions).subquery())
    return rows, counted
