"""Authentication rules: login with lockout, sessions and their token pairs with rotating refresh
tokens (reset and verification links: app/auth/links.py). Plain functions over a Session,
keyword-only past it, returning domain objects; HTTP lives in app/api/routes/auth.py.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app.auth import lockout
from app.auth.errors import InvalidCredentialsError, InvalidTokenError, TooManyLoginAttemptsError
from app.auth.models import LoginSession, RefreshToken
from app.core import metrics
from app.core.config import Settings
from app.core.database import locking
from app.core.security import (
    TokenClaims,
    TokenError,
    create_token,
    decode_token,
    digest,
    verify_password,
)
from app.users import service as users
from app.users.models import User


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def _now() -> datetime:
    return datetime.now(UTC)


# --- lockout -------------------------------------------------------------------------------------


def authenticate(
    session: Session, *, settings: Settings, email: str, password: str, ip: str | None
) -> User:
    """The user for these credentials, or InvalidCredentialsError (same answer for an unknown
    email and a wrong password, in about the same time), or 429 while locked out."""
    email = email.lower()
    try:
        attempt = lockout.reserve_check(session, settings=settings, email=email, ip=ip)
    except TooManyLoginAttemptsError:
        metrics.count_login("locked")
        raise
    user = users.get_by_email(session, email=email)
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
        metrics.count_login("failure")
        raise InvalidCredentialsError()
    metrics.count_login("success")
    return user


# --- access and refresh tokens -------------------------------------------------------------------


def _issue(session: Session, settings: Settings, user: User, session_id: str) -> IssuedTokens:
    access_lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    access = _access_token(settings, user, session_id)
    refresh, claims = create_token(
        user.id,
        "refresh",
        account=user.uid,
        version=user.token_version,
        lifetime=timedelta(days=settings.refresh_token_expire_days),
        key=settings.signing_key,
        session_id=session_id,
    )
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=session_id,
            token_digest=digest(refresh),
            expires_at=claims.expires_at,
        )
    )
    session.commit()
    return IssuedTokens(access, refresh, int(access_lifetime.total_seconds()))


def _access_token(settings: Settings, user: User, session_id: str) -> str:
    token, _ = create_token(
        user.id,
        "access",
        account=user.uid,
        version=user.token_version,
        lifetime=timedelta(minutes=settings.access_token_expire_minutes),
        key=settings.signing_key,
        session_id=session_id,
    )
    return token


def _new_session(session: Session, user: User) -> str:
    row = LoginSession(user_id=user.id)
    session.add(row)
    session.flush()
    return row.id


def issue_tokens(session: Session, *, settings: Settings, user: User) -> IssuedTokens:
    """A new session: an access token and the first refresh token of its family."""
    return _issue(session, settings, user, _new_session(session, user))


def access_token_only(session: Session, *, settings: Settings, user: User) -> str:
    """A new session without a refresh token (the OAuth2 form): it ends with the password or
    the account, like any other."""
    session_id = _new_session(session, user)
    session.commit()
    return _access_token(settings, user, session_id)


def _revoke_family(session: Session, family_id: str) -> None:
    now = _now()
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(LoginSession)
        .where(LoginSession.id == family_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.commit()


def _stored_refresh_token(
    session: Session, token: str, *, key: str
) -> tuple[RefreshToken, TokenClaims]:
    try:
        claims = decode_token(token, "refresh", key=key)
    except TokenError as exc:
        raise InvalidTokenError() from exc
    stored = session.scalar(
        locking(select(RefreshToken).where(RefreshToken.token_digest == digest(token)))
    )
    if stored is None:
        raise InvalidTokenError()
    return stored, claims


def rotate(session: Session, *, settings: Settings, refresh_token: str) -> IssuedTokens:
    """Trade a refresh token for a new pair. A token seen twice means it leaked: the whole family
    is revoked, so neither the thief nor the owner can go on with it."""
    stored, claims = _stored_refresh_token(session, refresh_token, key=settings.signing_key)
    if stored.revoked_at is not None or stored.used_at is not None:
        _revoke_family(session, stored.family_id)
        raise InvalidTokenError("Refresh token already used; all its sessions were ended")
    user = session.get(User, stored.user_id)
    if (
        user is None
        or claims.account != user.uid
        or claims.session_id != stored.family_id
        or claims.version != user.token_version
        or stored.expires_at <= _now()
    ):
        raise InvalidTokenError()
    stored.used_at = _now()
    return _issue(session, settings, user, stored.family_id)


def logout(session: Session, *, key: str, refresh_token: str) -> None:
    """End the session this refresh token belongs to. Unknown or already-ended tokens are fine:
    the caller wanted to be logged out, and is."""
    try:
        stored, _ = _stored_refresh_token(session, refresh_token, key=key)
    except InvalidTokenError:
        session.rollback()
        return
    _revoke_family(session, stored.family_id)


# Built once: this runs on every authenticated request, and building the statement cost more than
# running it.
_ACCESS_TOKEN_CALLER = (
    select(User)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        User.uid == bindparam("account"),
        User.token_version == bindparam("version"),
        LoginSession.id == bindparam("session_id"),
        LoginSession.revoked_at.is_(None),
    )
)


def user_from_access_token(session: Session, *, key: str, token: str) -> User:
    """The caller of an access token, in one statement: its account (the same one, at the same
    password) and its session, still open. Ended sessions stop their tokens at once."""
    try:
        claims = decode_token(token, "access", key=key)
    except TokenError as exc:
        raise InvalidTokenError() from exc
    user = session.scalar(
        _ACCESS_TOKEN_CALLER,
        {
            "user_id": claims.user_id,
            "account": claims.account,
            "version": claims.version,
            "session_id": claims.session_id,
        },
    )
    if user is None:
        raise InvalidTokenError()
    return user
