"""Tags as readers see them: GET /tags, each tag with how many public posts carry it.

Counted from post_tags joined to the posts that are public now (published, published_at passed),
so a draft's or a scheduled post's tags count for nothing and a tag only they carry is absent.
post_tags' (name, post_id) index gives the GROUP BY its rows in name order, each joined to its
post by primary key; the ordering by count then sorts only the groups.
"""

from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.posts.public import POST_TAGS, POSTS, is_public
from app.posts.schemas import TagPublic

_POST_COUNT = func.count().label("post_count")


def _tag(row: Row[Any]) -> TagPublic:
    return TagPublic(name=row.name, post_count=row.post_count)


def list_tags(session: Session, *, params: PageParams) -> Page[TagPublic]:
    """A page of tags, most used first, ties by name."""
    public_tags = (
        select(POST_TAGS.c.name, _POST_COUNT)
        .select_from(POST_TAGS.join(POSTS, POSTS.c.id == POST_TAGS.c.post_id))
        .where(is_public())
        .group_by(POST_TAGS.c.name)
    )
    ordered = public_tags.order_by(_POST_COUNT.desc(), POST_TAGS.c.name)
    return paginate(session, ordered, params, transform=_tag)
