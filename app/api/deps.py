"""Dependencies shared by the routers, as `Annotated` aliases: the app's objects (session,
storage, settings, mailer, jobs: built by create_app onto app.state), the caller, paging.

The ones that do no I/O are `async def`: FastAPI runs a plain `def` dependency on a worker
thread, and each such hop costs more than what these do.
"""

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import BackgroundTasks, Depends, Path, Query, Request, Response
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import api_keys
from app.auth import service as auth
from app.auth.account_mail import AccountMail
from app.auth.errors import AdminRequiredError, ApiKeyNotAllowedError
from app.comments import service as comments
from app.comments.models import Comment
from app.core.config import Settings
from app.core.database import Database, release
from app.core.errors import NotAuthenticatedError
from app.core.mail import Mailer
from app.core.pagination import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE, PageParams
from app.jobs.queue import Jobs
from app.posts import service as posts
from app.posts.models import Post
from app.uploads.limits import UploadLimits
from app.uploads.storage import Storage
from app.users.models import User

# app.state is untyped; these name what create_app put there, each read in one place.


async def get_settings_dep(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def get_storage_dep(request: Request) -> Storage:
    return cast(Storage, request.app.state.storage)


async def get_mailer(request: Request) -> Mailer:
    return cast(Mailer, request.app.state.mailer)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session. Opening one costs nothing (it connects at its first query), so it
    happens on the event loop; as a sync generator this cost two thread hops per request."""
    database = cast(Database, request.app.state.database)
    session = database.sessions()
    try:
        yield session
    finally:
        await release(session)


SessionDep = Annotated[Session, Depends(get_db)]
StorageDep = Annotated[Storage, Depends(get_storage_dep)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]


async def get_upload_limits(settings: SettingsDep) -> UploadLimits:
    # Read per request, not once per app: cheap, and it follows the app's settings.
    return UploadLimits.from_settings(settings)


UploadLimitsDep = Annotated[UploadLimits, Depends(get_upload_limits)]


async def get_jobs(request: Request) -> Jobs:
    return cast(Jobs, request.app.state.jobs)


JobsDep = Annotated[Jobs, Depends(get_jobs)]


async def get_account_mail(
    background: BackgroundTasks,
    session: SessionDep,
    jobs: JobsDep,
    mailer: MailerDep,
    settings: SettingsDep,
) -> AccountMail:
    """The account hooks of this request: mail through the app's jobs, recorded in the request's
    session (the same one its route uses) and sent after the response."""
    return AccountMail(
        background, session, jobs=jobs, mailer=mailer, signing_key=settings.signing_key
    )


AccountMailDep = Annotated[AccountMail, Depends(get_account_mail)]

# Ids are 32-bit integers on every backend; a larger one could only ever be a 404, and PostgreSQL
# would reject it with an error rather than find nothing.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

# auto_error=False: a missing credential is our NotAuthenticatedError (envelope, 401), and either
# scheme may be the one present. Both appear in /docs' Authorize dialog.
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_optional_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> User | None:
    # Only a credential needs the database (a worker thread); an anonymous caller needs nothing.
    if token:
        return await run_in_threadpool(
            auth.user_from_access_token, session, key=settings.signing_key, token=token
        )
    if api_key:
        return await run_in_threadpool(api_keys.user_for_key, session, key=api_key)
    return None


async def get_current_user(user: Annotated[User | None, Depends(get_optional_user)]) -> User:
    if user is None:
        raise NotAuthenticatedError()
    return user


async def get_admin_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    if not user.is_admin:
        raise AdminRequiredError()
    return user


async def came_with_bearer(token: Annotated[str | None, Depends(bearer_scheme)]) -> bool:
    """Whether the caller signed in with a bearer token. get_optional_user prefers the bearer
    token when both are sent, so an authenticated caller without one came with an API key."""
    return bool(token)


ViaBearer = Annotated[bool, Depends(came_with_bearer)]


async def get_bearer_user(
    user: Annotated[User, Depends(get_current_user)], bearer: ViaBearer
) -> User:
    """The caller, signed in with a bearer token: API keys cannot manage credentials."""
    if not bearer:
        raise ApiKeyNotAllowedError()
    return user


async def _no_store(response: Response) -> None:
    # Answers carrying credentials (token pairs, a new API key) must not sit in any cache.
    response.headers["Cache-Control"] = "no-store"


NO_STORE = Depends(_no_store)


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]
BearerUser = Annotated[User, Depends(get_bearer_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page (1..100)")
    ] = DEFAULT_PER_PAGE,
) -> PageParams:
    return PageParams(page=page, per_page=per_page)


PageDep = Annotated[PageParams, Depends(get_page_params)]


def get_changeable_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> Post:
    """Load a post and check the caller may change it, once, for every route that changes one."""
    return posts.get_for_change(session, post_id=post_id, user=user)


ChangeablePost = Annotated[Post, Depends(get_changeable_post)]


def get_authored_post(post_id: IdPath, user: CurrentUser, session: SessionDep) -> Post:
    """Like ChangeablePost, but for the author only (a cover is the author's choice)."""
    return posts.get_for_change(session, post_id=post_id, user=user, admin_ok=False)


AuthoredPost = Annotated[Post, Depends(get_authored_post)]


def get_editable_comment(comment_id: IdPath, user: CurrentUser, session: SessionDep) -> Comment:
    """A comment its author is changing: 403 for anyone else who can see it, 404 for those who
    cannot see its post."""
    return comments.get_for_change(session, comment_id=comment_id, user=user, action="edit")


EditableComment = Annotated[Comment, Depends(get_editable_comment)]


def get_deletable_comment(comment_id: IdPath, user: CurrentUser, session: SessionDep) -> Comment:
    """A comment the caller may delete: its author, the post's author, or an admin."""
    return comments.get_for_change(session, comment_id=comment_id, user=user, action="delete")


DeletableComment = Annotated[Comment, Depends(get_deletable_comment)]
