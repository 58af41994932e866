"""Authentication rules: login with lockout, token pairs with rotating refresh tokens, password
reset and email verification. Plain functions over a Session; HTTP lives in app/routers/auth.py.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import get_settings
from app.database import locking
from app.errors import (
    DomainError,
    InvalidActionTokenError,
    InvalidCredentialsError,
    InvalidTokenError,
)
from app.models import RefreshToken, User
from app.security import (
    RESET_TOKEN_MINUTES,
    VERIFY_TOKEN_MINUTES,
    TokenClaims,
    TokenError,
    TokenType,
    create_token,
    decode_token,
    digest,
    verify_password,
)
from app.services import lockout, users


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def _now() -> datetime:
    return datetime.now(UTC)


# --- lockout -------------------------------------------------------------------------------------


def authenticate(session: Session, email: str, password: str, ip: str | None) -> User:
    """The user for these credentials, or InvalidCredentialsError (same answer for an unknown
    email and a wrong password, in about the same time), or 429 while locked out."""
    email = email.lower()
    attempt = lockout.reserve_check(session, email, ip)
    user = users.get_by_email(session, email)
    # Commit the reservation, which releases the email's lock, before the slow hash: no lock and
    # no connection is held while a login flood queues for the hashing threads.
    session.commit()
    ok, upgraded_hash = verify_password(password, user.hashed_password if user else None)
    # A success clears the failures before it (lockout.check_lockout).
    attempt.succeeded = user is not None and ok
    if user is not None and ok and upgraded_hash:
        user.hashed_password = upgraded_hash
    session.commit()
    if user is None or not ok:
        raise InvalidCredentialsError()
    return user


# --- access and refresh tokens -------------------------------------------------------------------


def _issue(session: Session, user: User, family_id: str) -> IssuedTokens:
    settings = get_settings()
    access_lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    access, _ = create_token(
        user.id, "access", version=user.token_version, lifetime=access_lifetime
    )
    refresh, claims = create_token(
        user.id,
        "refresh",
        version=user.token_version,
        lifetime=timedelta(days=settings.refresh_token_expire_days),
    )
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_digest=digest(refresh),
            expires_at=claims.expires_at,
        )
    )
    session.commit()
    return IssuedTokens(access, refresh, int(access_lifetime.total_seconds()))


def issue_tokens(session: Session, user: User) -> IssuedTokens:
    """A new session: an access token and the first refresh token of a new family."""
    return _issue(session, user, uuid.uuid4().hex)


def access_token_only(user: User) -> str:
    settings = get_settings()
    token, _ = create_token(
        user.id,
        "access",
        version=user.token_version,
        lifetime=timedelta(minutes=settings.access_token_expire_minutes),
    )
    return token


def _revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    session.commit()


def _stored_refresh_token(session: Session, token: str) -> tuple[RefreshToken, TokenClaims]:
    try:
        claims = decode_token(token, "refresh")
    except TokenError as exc:
        raise InvalidTokenError() from exc
    stored = session.scalar(
        locking(select(RefreshToken).where(RefreshToken.token_digest == digest(token)))
    )
    if stored is None:
        raise InvalidTokenError()
    return stored, claims


def rotate(session: Session, token: str) -> IssuedTokens:
    """Trade a refresh token for a new pair. A token seen twice means it leaked: the whole family
    is revoked, so neither the thief nor the owner can go on with it."""
    stored, claims = _stored_refresh_token(session, token)
    if stored.revoked_at is not None or stored.used_at is not None:
        _revoke_family(session, stored.family_id)
        raise InvalidTokenError("Refresh token already used; all its sessions were ended")
    user = session.get(User, stored.user_id)
    if user is None or claims.version != user.token_version or stored.expires_at <= _now():
        raise InvalidTokenError()
    stored.used_at = _now()
    return _issue(session, user, stored.family_id)


def logout(session: Session, token: str) -> None:
    """End the session this refresh token belongs to. Unknown or already-ended tokens are fine:
    the caller wanted to be logged out, and is."""
    try:
        stored, _ = _stored_refresh_token(session, token)
    except InvalidTokenError:
        session.rollback()
        return
    _revoke_family(session, stored.family_id)


def _token_owner(
    session: Session, token: str, kind: TokenType, error: type[DomainError]
) -> tuple[User, TokenClaims]:
    """Decode a token of one purpose and load its user; `error` for anything wrong with either."""
    try:
        claims = decode_token(token, kind)
    except TokenError as exc:
        raise error() from exc
    user = session.get(User, claims.user_id)
    if user is None:
        raise error()
    return user, claims


def user_from_access_token(session: Session, token: str) -> User:
    user, claims = _token_owner(session, token, "access", InvalidTokenError)
    # A password changed since the token was issued ends the token.
    if claims.version != user.token_version:
        raise InvalidTokenError()
    return user


# --- password reset and email verification --------------------------------------------------------


def reset_token_for(session: Session, email: str) -> tuple[User, str] | None:
    user = users.get_by_email(session, email)
    if user is None:
        return None
    token, _ = create_token(
        user.id,
        "reset",
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
    # Refresh tokens carry the version too, so they die with this as well.
    users.set_password(session, user, new_password)


def verification_token_for(user: User) -> str:
    token, _ = create_token(
        user.id,
        "verify",
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
