"""/users: your own profile, password and API keys; other users' public profiles; admin delete."""

from fastapi import APIRouter, Request, Response, status

from app.api.deps import (
    NO_STORE,
    AccountMailDep,
    AdminUser,
    BearerUser,
    CurrentUser,
    IdPath,
    PageDep,
    SessionDep,
    StorageDep,
    UploadLimitsDep,
    ViaBearer,
)
from app.api.documented import CALLER, DATABASE, JSON_BODY, UPLOAD
from app.auth import api_keys
from app.auth.errors import AdminRequiredError, ApiKeyNotAllowedError
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyPublic
from app.core.errors import NotFoundError, documented
from app.core.schemas import Page
from app.uploads.forms import UploadForm
from app.users import avatars
from app.users import service as users
from app.users.errors import EmailTakenError, ReauthRequiredError, WrongPasswordError
from app.users.models import User
from app.users.schemas import (
    PasswordChange,
    UserPrivate,
    UserPublic,
    UserPublicPage,
    UserUpdate,
)

AVATAR_FORM = UploadForm("file")

router = APIRouter(prefix="/users", tags=["users"], responses=documented(*CALLER, *DATABASE))

NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.get("/me", response_model=UserPrivate, summary="Your own profile")
async def read_me(user: CurrentUser) -> User:
    # async: nothing left to do that blocks, so no worker thread (the caller came loaded).
    return user


@router.patch(
    "/me",
    response_model=UserPrivate,
    responses=documented(
        WrongPasswordError,
        ApiKeyNotAllowedError,
        ReauthRequiredError,
        EmailTakenError,
        *JSON_BODY,
    ),
    summary="Change your name, bio or email",
    description=(
        "Changing `email` needs a bearer token (`403 API_KEY_NOT_ALLOWED` for an API key) and "
        "`current_password` (`403 REAUTH_REQUIRED` without it, `400 INVALID_CURRENT_PASSWORD` "
        "if wrong). It resets `email_verified`, mails a notice to the old address and a "
        "verification link to the new one; `409 EMAIL_TAKEN` if another account has it."
    ),
)
def update_me(
    body: UserUpdate,
    user: CurrentUser,
    bearer: ViaBearer,
    session: SessionDep,
    hooks: AccountMailDep,
) -> User:
    # Name and bio may change with an API key; the email is a credential (BearerUser's rule).
    if body.email is not None and body.email != user.email and not bearer:
        raise ApiKeyNotAllowedError()
    return users.update_profile(session, user=user, data=body, hooks=hooks)


@router.patch(
    "/me/password",
    status_code=NO_CONTENT,
    responses=documented(
        WrongPasswordError, ApiKeyNotAllowedError, *JSON_BODY, "PASSWORD_TOO_COMMON"
    ),
    summary="Change your password",
    description="Needs the current password (`400 INVALID_CURRENT_PASSWORD`) and a bearer token "
    "(`403 API_KEY_NOT_ALLOWED` for an API key). Rotating the password rotates every credential: "
    "every session ends at once (log in again) and every API key is revoked.",
)
def change_password(body: PasswordChange, user: BearerUser, session: SessionDep) -> Response:
    users.change_password(session, user=user, current=body.current_password, new=body.new_password)
    return Response(status_code=NO_CONTENT)


@router.delete(
    "/me",
    status_code=NO_CONTENT,
    responses=documented(ApiKeyNotAllowedError),
    summary="Delete your account",
    description="Your posts, API keys, tokens and files go with it.",
)
def delete_me(user: BearerUser, session: SessionDep, storage: StorageDep) -> Response:
    users.delete_user(session, storage=storage, user=user)
    return Response(status_code=NO_CONTENT)


@router.post(
    "/me/avatar",
    response_model=UserPrivate,
    responses=documented(*UPLOAD),
    summary="Set your avatar (multipart `file`, an image)",
    description="Re-encoded without metadata and scaled to fit 512×512. The old avatar's file is "
    "removed.",
    **AVATAR_FORM.route_options(),
)
async def set_avatar(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    limits: UploadLimitsDep,
) -> User:
    return await AVATAR_FORM.store(
        request, storage, session, avatars.set_avatar, limits=limits, user=user
    )


@router.delete("/me/avatar", status_code=NO_CONTENT, summary="Remove your avatar")
def remove_avatar(user: CurrentUser, session: SessionDep, storage: StorageDep) -> Response:
    avatars.remove_avatar(session, storage=storage, user=user)
    return Response(status_code=NO_CONTENT)


@router.get(
    "/me/api-keys",
    response_model=ApiKeyPage,
    responses=documented(422),
    summary="Your API keys",
)
def list_api_keys(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[ApiKeyPublic]:
    return api_keys.list_keys(session, user=user, params=page, shape=ApiKeyPublic.model_validate)


@router.post(
    "/me/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=documented(ApiKeyNotAllowedError, *JSON_BODY),
    dependencies=[NO_STORE],
    summary="Create an API key",
    description="The answer carries `key` once; send it as `X-API-Key`. Needs a bearer token "
    "(`403 API_KEY_NOT_ALLOWED` for an API key). A password change or reset revokes every key.",
)
def create_api_key(body: ApiKeyCreate, user: BearerUser, session: SessionDep) -> ApiKeyCreated:
    new = api_keys.create_key(session, user=user, name=body.name)
    return ApiKeyCreated(**ApiKeyPublic.model_validate(new.row).model_dump(), key=new.key)


@router.delete(
    "/me/api-keys/{key_id}",
    status_code=NO_CONTENT,
    responses=documented(ApiKeyNotAllowedError, NotFoundError, 422),
    summary="Revoke an API key",
)
def revoke_api_key(key_id: IdPath, user: BearerUser, session: SessionDep) -> Response:
    api_keys.revoke_key(session, user=user, key_id=key_id)
    return Response(status_code=NO_CONTENT)


@router.get(
    "",
    response_model=UserPublicPage,
    responses=documented(422),
    summary="List users (public profiles)",
)
def list_users(_user: CurrentUser, session: SessionDep, page: PageDep) -> Page[UserPublic]:
    return users.list_users(session, params=page, shape=UserPublic.model_validate)


@router.get(
    "/{user_id}",
    response_model=UserPublic,
    responses=documented(NotFoundError, 422),
    summary="A user's public profile",
)
def read_user(user_id: IdPath, _user: CurrentUser, session: SessionDep) -> User:
    return users.get_user(session, user_id=user_id)


@router.delete(
    "/{user_id}",
    status_code=NO_CONTENT,
    responses=documented(AdminRequiredError, NotFoundError, 422),
    summary="Delete a user (admins)",
)
def delete_user(
    user_id: IdPath, _admin: AdminUser, session: SessionDep, storage: StorageDep
) -> Response:
    users.delete_user(session, storage=storage, user=users.get_user(session, user_id=user_id))
    return Response(status_code=NO_CONTENT)
