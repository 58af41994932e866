"""/posts: create, list (published, or your own), read, change, delete."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

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
from app.posts.models import Post
from app.posts.schemas import (
    PostCreate,
    PostPublic,
    PostPublicPage,
    PostUpdate,
    PostWithAuthor,
    PostWithAuthorPage,
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


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostPublic,
    responses=documented(*CALLER, *JSON_BODY),
    summary="Write a post (a draft unless `published` is true)",
)
def create_post(body: PostCreate, user: CurrentUser, session: SessionDep) -> Post:
    return posts.create_post(session, author=user, data=body)


@router.get(
    "",
    response_model=PostWithAuthorPage,
    responses=documented(422),
    summary="Published posts, newest first",
    description="`q` matches title or content, case-insensitively, as a literal substring.",
)
async def list_posts(
    session: SessionDep,
    page: PageDep,
    author_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[SearchText | None, Query()] = None,
) -> Page[PostWithAuthor]:
    return await read_in_thread(
        session, public.list_published, session, params=page, author_id=author_id, q=q
    )


@router.get(
    "/my",
    response_model=PostPublicPage,
    responses=documented(*CALLER, 422),
    summary="Your posts, drafts included, newest first",
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
    "/{post_id}",
    response_model=PostWithAuthor,
    responses=documented(InvalidTokenError, NotFoundError, 422),
    openapi_extra=OPTIONAL_AUTH,
    summary="A post with its author",
    description="A draft is visible to its author only; anyone else gets 404.",
)
async def read_post(post_id: IdPath, viewer: OptionalUser, session: SessionDep) -> Post:
    return await read_in_thread(session, posts.get_visible, session, post_id=post_id, viewer=viewer)


@router.patch(
    "/{post_id}",
    response_model=PostPublic,
    responses=documented(*CALLER, PermissionDeniedError, NotFoundError, *JSON_BODY),
    summary="Change a post (author, or admin on a published post)",
    description="Someone else's draft is 404, admins included; another user's published post "
    "is 403.",
)
def update_post(body: PostUpdate, post: ChangeablePost, session: SessionDep) -> Post:
    return posts.update_post(session, post=post, data=body)


@router.delete(
    "/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(*CALLER, PermissionDeniedError, NotFoundError, 422),
    summary="Delete a post (author, or admin on a published post)",
    description="Someone else's draft is 404, admins included; another user's published post "
    "is 403. Its cover file goes with it.",
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
