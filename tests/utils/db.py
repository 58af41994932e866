"""Sharing the test's rolled-back session with code that opens its own."""

from sqlalchemy.orm import Session


class Borrowed:
    """Lend the test's session to code that opens `with sessions() as session:`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc: object) -> None:
        return None
