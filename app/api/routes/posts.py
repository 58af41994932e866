"""/posts: create, list (published, or your own), read, change, delete."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.api.caching import PublicReadRoute
from app.api.deps import (
    MAX_ID,
    AuthoredPost,
    ChangeablePost,
    CurrentUser,
    IdPath,
    OptionalUser,
    PageDep,
    SessionDep,
    StorageDep,
    UploadLimitsDep,
)
from app.api.documented import CALLER, DATABASE, JSON_BODY, UPLOAD
from app.auth.errors import InvalidTokenError
from app.core.database import read_in_thread
from app.core.errors import NotFoundError, PermissionDeniedError, documented
from app.core.schemas import Page
from app.core.text import SingleLine
from app.posts import covers, public
from app.posts import service as posts
from app.posts.errors import SlugTakenError
from app.posts.models import Post
from app.posts.schemas import (
    PostCreate,
    PostPublic,
    PostPublicPage,
    PostUpdate,
    PostWithAuthor,
    PostWithAuthorPage,
    TagName,
)
from app.uploads.forms import UploadForm

COVER_FORM = UploadForm("file")

SearchText = Annotated[str, SingleLine(200)]

# PublicReadRoute: GET answers carry an ETag and honour If-None-Match (app.api.caching).
router = APIRouter(
    prefix="/posts",
    tags=["posts"],
    responses=documented(*DATABASE),
    route_class=PublicReadRoute,
)

# Optional credentials: anonymous reads work, so the empty alternative is listed too.
OPTIONAL_AUTH: dict[str, Any] = {"security": [{}]}  # added to the schemes FastAPI lists


# What POST and PATCH /posts say about the fields a client sets beyond title and content.
WRITING_RULES = """
`content` is Markdown: `content_html` (sanitised: no script, style, event attributes,
`javascript:`/`data:` URLs, iframes), `excerpt` (the first ~200 characters of its text) and
`reading_time_minutes` (words / 230, at least 1) are computed when the post is written.

`slug`: `a-z0-9` and single `-` between them, at most 100 characters. Left out on creation, it is
made from the title (`-2`, `-3`... when taken). Taken by another post: `409 SLUG_TAKEN`. Changing
the title never changes the slug.

`tags`: up to 10 names, each 1 to 40 characters once normalised (lower-case, trimmed, each run of
inner spaces one `-`); duplicates after normalisation count once. Sending `tags` replaces them.

Publication: `published: true` without `published_at` publishes now; `published: true` on a post
that is already published keeps its `published_at`; `published: false` makes a draft
(`published_at` null). `published_at` (ISO 8601 with a time zone, years 1970 to 9999; a naive
time is 422) needs `published: true` in the same body (else 422 "published_at needs published:
true"); a time in the future schedules the post: until then it is out of every public list and
tag count and answers 404 to everyone but its author.
"""

SlugPath = Annotated[
    str, Path(description="A post's slug. One that is not slug-shaped names no post: 404.")
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostPublic,
    responses=documented(*CALLER, SlugTakenError, *JSON_BODY),
    summary="Write a post (a draft unless `published` is true)",
    description=WRITING_RULES,
)
def create_post(body: PostCreate, user: CurrentUser, session: SessionDep) -> Post:
    return posts.create_post(session, author=user, data=body)


@router.get(
    "",
    response_model=PostWithAuthorPage,
    responses=documented(422),
    summary="Published posts, newest first",
    description="Public posts only (published, and `published_at` passed), newest "
    "`published_at` first. `q` matches title or content, case-insensitively, as a literal "
    "substring. `tag` is one tag name, normalised as tags are stored (`Python ` matches "
    "`python`).",
)
async def list_posts(
    session: SessionDep,
    page: PageDep,
    author_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[SearchText | None, Query()] = None,
    tag: Annotated[TagName | None, Query()] = None,
) -> Response:
    # The page's JSON is rendered from its rows (app/posts/public.py); a Response is sent as it
    # is, so FastAPI does not validate and serialise it again. response_model documents it.
    # Anonymous requests with plain parameters get the same answer before routing
    # (app/api/list_lane.py); this serves the rest (searches, callers with credentials, 422s).
    body = await read_in_thread(
        session, public.list_published, session, params=page, author_id=author_id, q=q, tag=tag
    )
    return Response(body, media_type="application/json")


@router.get(
    "/my",
    response_model=PostPublicPage,
    responses=documented(*CALLER, 422),
    summary="Your posts, drafts and scheduled ones included, newest first",
    description="`published=false`: your drafts; `published=true`: published and scheduled.",
)
def list_my_posts(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    published: bool | None = None,
) -> Page[PostPublic]:
    mine = posts.list_own(session, author=user, params=page, published=published)
    return Page[PostPublic].model_validate(mine, from_attributes=True)


@router.get(
    "/slug/{slug}",
    response_model=PostWithAuthor,
    responses=documented(InvalidTokenError, NotFoundError),
    openapi_extra=OPTIONAL_AUTH,
    summary="A post with its author, by slug",
    description="A draft or scheduled post is visible to its author only; anyone else gets 404. "
    "A slug that is not slug-shaped (upper case, `_`, over 100 characters) can name no post: "
    "404 as well, not 422.",
)
async def read_post_by_slug(slug: SlugPath, viewer: OptionalUser, session: SessionDep) -> Post:
    return await read_in_thread(
        session, posts.get_visible_by_slug, session, slug=slug, viewer=viewer
    )


@router.get(
    "/{post_id}",
    response_model=PostWithAuthor,
    responses=documented(InvalidTokenError, NotFoundError, 422),
    openapi_extra=OPTIONAL_AUTH,
    summary="A post with its author",
    description="A draft or scheduled post is visible to its author only; anyone else gets 404.",
)
async def read_post(post_id: IdPath, viewer: OptionalUser, session: SessionDep) -> Post:
    return await read_in_thread(session, posts.get_visible, session, post_id=post_id, viewer=viewer)


@router.patch(
    "/{post_id}",
    response_model=PostPublic,
    responses=documented(*CALLER, PermissionDeniedError, NotFoundError, SlugTakenError, *JSON_BODY),
    summary="Change a post (author, or admin on a published post)",
    description="Someone else's draft or scheduled post is 404, admins included; another user's "
    "published post is 403.\n" + WRITING_RULES,
)
def update_post(body: PostUpdate, post: ChangeablePost, session: SessionDep) -> Post:
    return posts.update_post(session, post=post, data=body)


@router.delete(
    "/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(*CALLER, PermissionDeniedError, NotFoundError, 422),
    summary="Delete a post (author, or admin on a published post)",
    description="Someone else's draft or scheduled post is 404, admins included; another "
    "user's published post is 403. Its cover file and comments go with it.",
)
def delete_post(post: ChangeablePost, session: SessionDep, storage: StorageDep) -> Response:
    posts.delete_post(session, storage=storage, post=post)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch(
    "/{post_id}/cover",
    response_model=PostPublic,
    responses=documented(*CALLER, PermissionDeniedError, NotFoundError, 422, *UPLOAD),
    summary="Set a post's cover image (author only; multipart `file`)",
    description="Re-encoded without metadata and scaled to fit 1920×1920. The old cover's file is "
    "removed.",
    **COVER_FORM.route_options(),
)
async def set_cover(
    request: Request,
    post: AuthoredPost,
    session: SessionDep,
    storage: StorageDep,
    limits: UploadLimitsDep,
) -> Post:
    return await COVER_FORM.store(
        request, storage, session, covers.set_cover, limits=limits, post=post
    )
