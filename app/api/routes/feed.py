"""/feed.xml: the Atom feed of the newest public posts (app.posts.feed builds it)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.api.caching import PublicReadRoute
from app.api.deps import MAX_ID, SessionDep, SettingsDep
from app.api.documented import DATABASE
from app.core.database import read_in_thread
from app.core.errors import documented
from app.posts import feed
from app.posts.schemas import TagName

router = APIRouter(tags=["feed"], route_class=PublicReadRoute)

ATOM_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An Atom 1.0 feed",
        "content": {feed.MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/feed.xml",
    response_class=Response,
    responses={**ATOM_ANSWER, **documented(422, *DATABASE)},
    summary="Atom feed of the newest published posts",
    description=f"The {feed.FEED_SIZE} newest published posts (scheduled ones once their time "
    "has come), newest `published_at` first, each linking to `{FRONTEND_URL}/posts/{slug}`. "
    "`author_id` keeps one author's posts, `tag` one tag's (normalised like post tags: "
    "lower-case, trimmed, inner spaces to `-`). A filter that matches nothing, an unknown "
    "author included, answers an empty feed (200), not 404: the feed does not tell which user "
    "ids exist. Entry ids are `tag:` URIs that survive slug and title edits.",
)
async def atom_feed(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    author_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    tag: Annotated[TagName | None, Query()] = None,
) -> Response:
    # TagName normalises the tag as tags are stored.
    query = feed.FeedQuery(author_id=author_id, tag=tag)
    base = settings.public_base_url or str(request.base_url).rstrip("/")
    document = await read_in_thread(
        session,
        feed.atom_feed,
        session,
        query,
        title=settings.feed_title,
        frontend_url=settings.frontend_url,
        self_url=f"{base}/feed.xml{query.query_string()}",
    )
    return Response(document, media_type=feed.MEDIA_TYPE)
