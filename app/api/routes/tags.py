"""/tags: the tags readers can browse, with how many public posts carry each."""

from fastapi import APIRouter

from app.api.caching import PublicReadRoute
from app.api.deps import PageDep, SessionDep
from app.api.documented import DATABASE
from app.core.database import read_in_thread
from app.core.errors import documented
from app.core.schemas import Page
from app.posts import tags
from app.posts.schemas import TagPage, TagPublic

router = APIRouter(
    prefix="/tags", tags=["tags"], responses=documented(*DATABASE), route_class=PublicReadRoute
)


@router.get(
    "",
    response_model=TagPage,
    responses=documented(422),
    summary="Tags of public posts, most used first",
    description="`post_count` counts public posts only (published, `published_at` passed): a "
    "tag that only drafts or scheduled posts carry is not listed. Ties are ordered by name.",
)
async def list_tags(session: SessionDep, page: PageDep) -> Page[TagPublic]:
    return await read_in_thread(session, tags.list_tags, session, params=page)
