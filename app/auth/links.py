"""Password reset and email verification links: one-off tokens bound to the account they were
issued to (its never-reused `uid`), each good for its one purpose. Asking for one is throttled
per address (app/auth/mail_throttle.py); the hooks the caller passes send it."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.auth import mail_throttle
from app.auth.errors import InvalidActionTokenError, MailThrottledError
from app.core.config import Settings
from app.core.errors import DomainError
from app.core.security import (
    RESET_TOKEN_MINUTES,
    VERIFY_TOKEN_MINUTES,
    TokenClaims,
    TokenError,
    TokenType,
    create_token,
    decode_token,
)
from app.users import service as users
from app.users.hooks import AccountHooks
from app.users.models import User


def _token_owner(
    session: Session, token: str, kind: TokenType, error: type[DomainError], *, key: str
) -> tuple[User, TokenClaims]:
    """Decode a one-off link's token and load the account it was issued to; `error` for anything
    wrong with either."""
    try:
        claims = decode_token(token, kind, key=key)
    except TokenError as exc:
        raise error() from exc
    user = session.get(User, claims.user_id)
    if user is None or user.uid != claims.account:
        raise error()
    return user, claims


def request_password_reset(
    session: Session, *, settings: Settings, email: str, hooks: AccountHooks
) -> None:
    """Hand a reset token to `hooks` if `email` is registered and within its mail allowance.

    Silent either way: past the address's hourly allowance the caller's answer stays the same,
    since it must not tell whether the address is registered, and a flood of requests mails
    nothing more."""
    user = users.get_by_email(session, email=email)
    if user is None or mail_throttle.reserve(session, settings=settings, address=email) is not None:
        return
    token, _ = create_token(
        user.id,
        "reset",
        account=user.uid,
        version=user.token_version,
        lifetime=timedelta(minutes=RESET_TOKEN_MINUTES),
        key=settings.signing_key,
    )
    # `reserve` committed the slot; the mail the hooks record commits right after it, before
    # the answer. (A crash between the two costs the address one slot, never a mail twice.)
    hooks.on_after_forgot_password(user, token=token)
    session.commit()


def reset_password(session: Session, *, key: str, token: str, new_password: str) -> User:
    """Single use: the token names the token version it was issued under, and setting the password
    bumps that version, which also ends every session."""
    user, claims = _token_owner(session, token, "reset", InvalidActionTokenError, key=key)
    if claims.version != user.token_version:
        raise InvalidActionTokenError()
    # Ends every session and revokes every API key too.
    users.set_password(session, user=user, new_password=new_password)
    return user


def request_verification(
    session: Session, *, settings: Settings, user: User, hooks: AccountHooks
) -> None:
    """Hand a verification token for the user's current address to `hooks`; MailThrottledError
    past the address's hourly allowance (the caller is signed in: there is nothing to hide)."""
    retry_after = mail_throttle.reserve(session, settings=settings, address=user.email)
    if retry_after is not None:
        raise MailThrottledError(retry_after)
    token = verification_token_for(user, key=settings.signing_key)
    hooks.on_after_request_verify(user, token=token)
    session.commit()  # what the hooks recorded (see request_password_reset)


def verification_token_for(user: User, *, key: str) -> str:
    token, _ = create_token(
        user.id,
        "verify",
        account=user.uid,
        version=user.token_version,
        email=user.email,
        lifetime=timedelta(minutes=VERIFY_TOKEN_MINUTES),
        key=key,
    )
    return token


def verify_email(session: Session, *, key: str, token: str) -> User:
    """The token is bound to the address it was sent to: after an email change it is void."""
    user, claims = _token_owner(session, token, "verify", InvalidActionTokenError, key=key)
    if claims.email != user.email:
        raise InvalidActionTokenError()
    user.email_verified = True
    session.commit()
    return user
