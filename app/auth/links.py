"""Password reset and email verification links: one-off tokens bound to the account they were
issued to (its never-reused `uid`), each good for its one purpose."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.auth.errors import InvalidActionTokenError
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
from app.users.models import User


def _token_owner(
    session: Session, token: str, kind: TokenType, error: type[DomainError]
) -> tuple[User, TokenClaims]:
    """Decode a one-off link's token and load the account it was issued to; `error` for anything
    wrong with either."""
    try:
        claims = decode_token(token, kind)
    except TokenError as exc:
        raise error() from exc
    user = session.get(User, claims.user_id)
    if user is None or user.uid != claims.account:
        raise error()
    return user, claims


def reset_token_for(session: Session, email: str) -> tuple[User, str] | None:
    user = users.get_by_email(session, email)
    if user is None:
        return None
    token, _ = create_token(
        user.id,
        "reset",
        account=user.uid,
        version=user.token_version,
        lifetime=timedelta(minutes=RESET_TOKEN_MINUTES),
    )
    return user, token


def reset_password(session: Session, token: str, new_password: str) -> None:
    """Single use: the token names the token version it was issued under, and setting the password
    bumps that version, which also ends every session."""
    user, claims = _token_owner(session, token, "reset", InvalidActionTokenError)
    if claims.version != user.token_version:
        raise InvalidActionTokenError()
    # Ends every session and revokes every API key too.
    users.set_password(session, user, new_password)


def verification_token_for(user: User) -> str:
    token, _ = create_token(
        user.id,
        "verify",
        account=user.uid,
        version=user.token_version,
        email=user.email,
        lifetime=timedelta(minutes=VERIFY_TOKEN_MINUTES),
    )
    return token


def verify_email(session: Session, token: str) -> None:
    """The token is bound to the address it was sent to: after an email change it is void."""
    user, claims = _token_owner(session, token, "verify", InvalidActionTokenError)
    if claims.email != user.email:
        raise InvalidActionTokenError()
    user.email_verified = True
    session.commit()
