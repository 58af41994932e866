"""/auth: register, login (JSON and OAuth2 form), refresh, logout, password reset, verification."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from app.api.deps import (
    NO_STORE,
    AccountMailDep,
    CurrentUser,
    JobsDep,
    SessionDep,
    SettingsDep,
)
from app.api.documented import CALLER, DATABASE, JSON_BODY
from app.auth import links as account_links
from app.auth import service as auth
from app.auth.errors import (
    InvalidActionTokenError,
    InvalidCredentialsError,
    InvalidTokenError,
    MailThrottledError,
    TooManyLoginAttemptsError,
)
from app.auth.schemas import (
    EmailRequest,
    LoginRequest,
    LoginResponse,
    OAuth2Token,
    RefreshRequest,
    ResetPasswordRequest,
    TokenPair,
    TokenRequest,
)
from app.core.config import Settings
from app.core.errors import DomainError, documented
from app.core.ratelimit import RateLimitedError
from app.core.schemas import Accepted
from app.core.text import (
    GivenPassword,
    LoginEmail,
    SingleLine,
)
from app.jobs.queue import Jobs
from app.users import service as users
from app.users.errors import EmailTakenError
from app.users.models import User
from app.users.schemas import UserCreate, UserPrivate

router = APIRouter(prefix="/auth", tags=["auth"])

Scope = Annotated[str, SingleLine(1024)]
ClientText = Annotated[str, SingleLine(255)]


class PasswordForm(BaseModel):
    """The OAuth2 password form (`username` is the email) with the text rules of the JSON login:
    a username that is no possible address (too long, control characters) is a 422 before it
    reaches the database. A model, so the schema names it `PasswordForm`."""

    grant_type: Annotated[str | None, StringConstraints(pattern="^password$")] = None
    username: LoginEmail
    password: Annotated[GivenPassword, Field(json_schema_extra={"format": "password"})]
    scope: Scope = ""
    client_id: ClientText | None = None
    client_secret: Annotated[ClientText | None, Field(json_schema_extra={"format": "password"})] = (
        None
    )


def _login(
    session: Session,
    settings: Settings,
    jobs: Jobs,
    background: BackgroundTasks,
    request: Request,
    email: str,
    password: str,
) -> User:
    ip = request.client.host if request.client else None
    try:
        user = auth.authenticate(session, settings=settings, email=email, password=password, ip=ip)
    except DomainError as exc:
        outcome = "LOCKED" if isinstance(exc, TooManyLoginAttemptsError) else "FAILED"
        jobs.login_attempt(background, outcome, email.lower(), ip)
        exc.background = background
        raise
    jobs.login_attempt(background, "SUCCESS", user.email, ip)
    return user


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPrivate,
    responses=documented(
        EmailTakenError, *JSON_BODY, "PASSWORD_TOO_COMMON", *DATABASE, RateLimitedError
    ),
    summary="Create an account",
    description="A welcome email is sent in the background. `409 EMAIL_TAKEN` if registered.",
)
def register(body: UserCreate, session: SessionDep, hooks: AccountMailDep) -> User:
    return users.register(session, data=body, hooks=hooks)


@router.post(
    "/login",
    response_model=LoginResponse,
    responses=documented(
        InvalidCredentialsError, TooManyLoginAttemptsError, *JSON_BODY, *DATABASE, RateLimitedError
    ),
    dependencies=[NO_STORE],
    summary="Log in with email and password",
    description=(
        "`401 INVALID_CREDENTIALS` for an unknown email and a wrong password alike. After "
        "`LOGIN_MAX_FAILURES` failures within `LOGIN_LOCKOUT_MINUTES`, `429` with `Retry-After`."
    ),
)
def login(
    body: LoginRequest,
    session: SessionDep,
    settings: SettingsDep,
    jobs: JobsDep,
    background: BackgroundTasks,
    request: Request,
) -> LoginResponse:
    user = _login(session, settings, jobs, background, request, body.email, body.password)
    tokens = auth.issue_tokens(session, settings=settings, user=user)
    return LoginResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=UserPrivate.model_validate(user),
    )


@router.post(
    "/token",
    response_model=OAuth2Token,
    responses=documented(
        InvalidCredentialsError, TooManyLoginAttemptsError, *JSON_BODY, *DATABASE, RateLimitedError
    ),
    dependencies=[NO_STORE],
    summary="OAuth2 password flow (the /docs Authorize button)",
    description="Form fields `username` (the email) and `password`. Answers an access token only.",
)
def token(
    form: Annotated[PasswordForm, Form()],
    session: SessionDep,
    settings: SettingsDep,
    jobs: JobsDep,
    background: BackgroundTasks,
    request: Request,
) -> OAuth2Token:
    user = _login(session, settings, jobs, background, request, form.username, form.password)
    return OAuth2Token(access_token=auth.access_token_only(session, settings=settings, user=user))


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=documented(InvalidTokenError, *JSON_BODY, *DATABASE, RateLimitedError),
    dependencies=[NO_STORE],
    summary="Trade a refresh token for a new pair",
    description=(
        "The refresh token used here stops working. Presenting an already used one revokes "
        "every token of its family (`401 INVALID_TOKEN`)."
    ),
)
def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenPair:
    tokens = auth.rotate(session, settings=settings, refresh_token=body.refresh_token)
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(*JSON_BODY, *DATABASE, RateLimitedError),
    summary="End the session of a refresh token",
    description="Always 204: an unknown or already-ended token leaves nothing to end. The "
    "session's access tokens stop working at once.",
)
def logout(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> Response:
    auth.logout(session, key=settings.signing_key, refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=documented(*JSON_BODY, *DATABASE, RateLimitedError),
    summary="Mail a password reset link",
    description="202 whether or not the email is registered, so it reveals nothing.",
)
def forgot_password(
    body: EmailRequest, session: SessionDep, settings: SettingsDep, hooks: AccountMailDep
) -> Accepted:
    account_links.request_password_reset(session, settings=settings, email=body.email, hooks=hooks)
    return Accepted(message="If the email is registered, a reset link is on its way")


@router.post(
    "/reset-password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(
        InvalidActionTokenError, *JSON_BODY, "PASSWORD_TOO_COMMON", *DATABASE, RateLimitedError
    ),
    summary="Set a new password with a reset token",
    description=(
        "The token is single-use, expires in 30 minutes and is good for nothing else. Every "
        "session of the user ends at once and every API key is revoked. "
        "`400 INVALID_OR_EXPIRED_TOKEN` otherwise."
    ),
)
def reset_password(
    body: ResetPasswordRequest, session: SessionDep, settings: SettingsDep
) -> Response:
    account_links.reset_password(
        session, key=settings.signing_key, token=body.token, new_password=body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/verify-email/request",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=documented(*CALLER, MailThrottledError, *DATABASE, RateLimitedError),
    summary="Mail a verification link to your address",
    description="At most `MAIL_PER_ADDRESS_PER_HOUR` mails an hour to one address; then "
    "`429 MAIL_THROTTLED` with `Retry-After`.",
)
def request_verification(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, hooks: AccountMailDep
) -> Accepted:
    account_links.request_verification(session, settings=settings, user=user, hooks=hooks)
    return Accepted(message="A verification link is on its way")


@router.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(InvalidActionTokenError, *JSON_BODY, *DATABASE, RateLimitedError),
    summary="Confirm an email address with its token",
    description="The token is void once the account's email changes.",
)
def verify_email(body: TokenRequest, session: SessionDep, settings: SettingsDep) -> Response:
    account_links.verify_email(session, key=settings.signing_key, token=body.token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
