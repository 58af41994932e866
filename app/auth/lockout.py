"""Login lockout: at most LOGIN_MAX_FAILURES password checks fail for one email within
LOGIN_LOCKOUT_MINUTES, however many logins arrive at once. A check is reserved (counted and
written under a per-email lock) before the slow hash, never after it.
"""

import math
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.errors import TooManyLoginAttemptsError
from app.auth.models import LoginAttempt, LoginThrottle
from app.core.config import Settings
from app.core.database import locking


def _now() -> datetime:
    return datetime.now(UTC)


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


def check_lockout(session: Session, email: str, *, settings: Settings) -> bool:
    """Raise 429 once an email has too many recent failures (since its last success); else say
    whether a password check may start now (True), or must wait for the checks in progress.

    A check in progress might fail, so it takes a slot: starting one more while failures plus
    checks in progress reach the limit could exceed it. A check still in progress after
    CHECK_DEADLINE died with its process, and counts as a failure.
    """
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


def reserve_check(
    session: Session, *, settings: Settings, email: str, ip: str | None
) -> LoginAttempt:
    """Reserve one password check: count and write under the email's lock, so however many
    requests arrive at once, at most LOGIN_MAX_FAILURES checks fail per window. While the slots
    are taken by checks in progress, wait for them: a success frees every slot, a failure makes
    this a 429. The row reads "in progress" (succeeded NULL) until the caller settles it: True
    or False, then commit."""
    waited = 0.0
    pause = 0.02
    while True:
        _lock_email(session, email)
        try:
            free = check_lockout(session, email, settings=settings)
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
