"""Authentication rules: login with lockout, token pairs with rotating refresh tokens, password
reset and email verification. Plain functions over a Session; HTTP lives in app/routers/auth.py.
"""

import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import get_settings
from app.database import locking
from app.errors import (
    DomainError,
    InvalidActionTokenError,
    InvalidCredentialsError,
    InvalidTokenError,
    TooManyLoginAttemptsError,
)
from app.models import LoginAttempt, LoginThrottle, RefreshToken, User
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
from app.services import users


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def _now() -> datetime:
    return datetime.now(UTC)


# --- lockout -------------------------------------------------------------------------------------


# A password check still unsettled after this died with its process: it counts as a failure.
CHECK_DEADLINE = timedelta(seconds=60)
# How long a login waits for the checks in progress on its email before answering 429.
WAIT_FOR_CHECKS = timedelta(seconds=10)


def _lock_email(session: Session, email: str) -> None:
    """Hold this email's LoginThrottle row (SELECT ... FOR UPDATE; SQLite's write lock) until the
    transaction ends, so the logins for one email count and reserve their checks one at a time.

    The lock must open the transaction: MySQL's REPEATABLE READ would otherwise answer the count
    from a snapshot taken before the attempts committed while this request waited.
    """
    if session.in_transaction():
        session.commit()
    stmt = locking(select(LoginThrottle.email).where(LoginThrottle.email == email))
    if session.scalar(stmt) is not None:
        return
    # First login for this email. Create the row in a transaction of its own: two requests both
    # inserting under the gap lock their FOR UPDATE took deadlock on MySQL.
    session.rollback()
    try:
        session.add(LoginThrottle(email=email))
        session.commit()
    except IntegrityError:
        session.rollback()  # another request created it first, which is as good
    session.scalar(stmt)


def check_lockout(session: Session, email: str) -> bool:
    """Raise 429 once an email has too many recent failures (since its last success); else say
    whether a password check may start now (True), or must wait for the checks in progress.

    A check in progress might fail, so it takes a slot: starting one more while failures plus
    checks in progress reach the limit could exceed it. A check still in progress after
    CHECK_DEADLINE died with its process, and counts as a failure.
    """
    settings = get_settings()
    now = _now()
    window_start = now - timedelta(minutes=settings.login_lockout_minutes)
    last_success = session.scalar(
        select(func.max(LoginAttempt.created_at)).where(
            LoginAttempt.email == email,
            LoginAttempt.succeeded.is_(True),
            LoginAttempt.created_at > window_start,
        )
    )
    since = max(window_start, last_success) if last_success else window_start
    rows = session.execute(
        select(LoginAttempt.succeeded, LoginAttempt.created_at).where(
            LoginAttempt.email == email,
            or_(LoginAttempt.succeeded.is_(False), LoginAttempt.succeeded.is_(None)),
            LoginAttempt.created_at > since,
        )
    ).all()
    in_progress = sum(1 for ok, at in rows if ok is None and at > now - CHECK_DEADLINE)
    failed = sorted(at for ok, at in rows if ok is False or at <= now - CHECK_DEADLINE)
    limit = settings.login_max_failures
    if len(failed) >= limit:
        # Unlocked once fewer than `limit` failures are left in the window.
        unlock_at = failed[len(failed) - limit] + timedelta(minutes=settings.login_lockout_minutes)
        raise TooManyLoginAttemptsError(max(1, math.ceil((unlock_at - now).total_seconds())))
    return len(failed) + in_progress < limit


def _record_attempt(session: Session, email: str, ip: str | None) -> LoginAttempt:
    """Reserve one password check: count and write under the email's lock, so however many
    requests arrive at once, at most LOGIN_MAX_FAILURES checks fail per window. While the slots
    are taken by checks in progress, wait for them: a success frees every slot, a failure makes
    this a 429. The row reads "in progress" (succeeded NULL) until authenticate settles it."""
    waited = 0.0
    pause = 0.02
    while True:
        _lock_email(session, email)
        try:
            free = check_lockout(session, email)
        except TooManyLoginAttemptsError:
            session.rollback()  # release the lock; nothing was written
            raise
        if free:
            attempt = LoginAttempt(email=email, ip=ip, succeeded=None)
            session.add(attempt)
            return attempt
        session.rollback()
        if waited >= WAIT_FOR_CHECKS.total_seconds():
            raise TooManyLoginAttemptsError(1)
        time.sleep(pause)
        waited += pause
        pause = min(pause * 2, 0.25)


def authenticate(session: Session, email: str, password: str, ip: str | None) -> User:
    """The user for these credentials, or InvalidCredentialsError (same answer for an unknown
    email and a wrong password, in about the same time), or 429 while locked out."""
    email = email.lower()
    attempt = _record_attempt(session, email, ip)
    user = users.get_by_email(session, email)
    # Commit the reservation, which releases the email's lock, before the slow hash: no lock and
    # no connection is held while a login flood queues for the hashing threads.
    session.commit()
    ok, upgraded_hash = verify_password(password, user.hashed_password if user else None)
    # A success clears the failures before it (check_lockout).
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
