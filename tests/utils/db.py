"""Sessions in tests: lending the test's rolled-back one to code that opens its own, users
committed for real for the tests that need several connections, and counting the statements a
request runs."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import delete, event
from sqlalchemy.orm import Session

from app.auth.models import LoginAttempt, LoginThrottle
from app.users.models import User


class Borrowed:
    """Lend the test's session to code that opens `with sessions() as session:`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc: object) -> None:
        return None


@contextmanager
def committed_user(
    sessions: Callable[[], AbstractContextManager[Session]],
    *,
    email: str,
    hashed_password: str,
    name: str = "Someone",
) -> Iterator[User]:
    """A user committed for real (concurrent requests need their own sessions, outside the
    test's rolled-back transaction), deleted afterwards with everything that cascades from it.
    What is keyed by the address instead (login attempts and throttles) goes too."""
    with sessions() as session:
        user = User(email=email, hashed_password=hashed_password, name=name)
        session.add(user)
        session.commit()
    try:
        yield user
    finally:
        with sessions() as session:
            session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
            session.execute(delete(LoginThrottle).where(LoginThrottle.email == email))
            gone = session.get(User, user.id)
            if (
                gone is not None
            ):  # through the ORM, so the posts counters follow (app/posts/counts.py)
                session.delete(gone)
            session.commit()


@contextmanager
def count_statements(session: Session) -> Iterator[list[str]]:
    """The statements run on `session`'s engine meanwhile (savepoints aside: the test's own)."""
    statements: list[str] = []
    engine = session.get_bind().engine

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
