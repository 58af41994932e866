"""The public list's searches read outside a transaction on PostgreSQL (standalone_reads; its
other pages go through app.core.driver_reads, tests/core/test_driver_reads.py):
no BEGIN before its statement, no ROLLBACK after, the same bytes, and the connection back in the
pool as it was (the next session's writes are in a transaction again)."""

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import Database, make_engine, standalone_reads
from app.core.pagination import PageParams
from app.posts import public
from app.posts import service as posts
from app.posts.models import Post
from app.posts.schemas import PostCreate
from tests.utils.db import committed_user


@pytest.fixture
def one_connection(engine: Engine) -> Iterator[Database]:
    """A pool of one connection, so what the read leaves on it is what the next session gets."""
    own = Database(make_engine(engine.url.render_as_string(hide_password=False), pool_size=1))
    try:
        yield own
    finally:
        own.dispose()


def _autocommit_of(conn: Any) -> Any:
    return conn.connection.dbapi_connection.autocommit


def test_the_list_reads_without_a_transaction_on_postgresql_alone(
    one_connection: Database, session_factory: sessionmaker[Session], password_hash: str
) -> None:
    email = f"standalone-{uuid4().hex[:8]}@example.com"
    with committed_user(session_factory, email=email, hashed_password=password_hash) as user:
        with session_factory() as session:
            for n in range(3):
                data = PostCreate(title=f"Alone {n}", content="w", tags=["alone"], published=True)
                posts.create_post(session, author=user, data=data)
        seen: list[Any] = []

        def record(conn: Any, *_args: Any) -> None:
            seen.append(_autocommit_of(conn))

        postgresql = one_connection.engine.dialect.name == "postgresql"
        if postgresql:  # the others' DBAPI connections differ in how they say it
            event.listen(one_connection.engine, "before_cursor_execute", record)
        try:
            with one_connection.sessions() as session:
                alone = public.list_published(session, params=PageParams(1, 2), q="Alone")
            with one_connection.sessions() as session:
                session.begin()  # already in a transaction: read there, as before
                inside = public.list_published(session, params=PageParams(1, 2), q="Alone")
        finally:
            if postgresql:
                event.remove(one_connection.engine, "before_cursor_execute", record)
        assert alone == inside
        assert b'"total":3' in alone
        if postgresql:
            # The second session had begun: it read in there (a search's page, then its total).
            half = len(seen) // 2
            assert half >= 1 and seen == [True] * half + [False] * half
        with one_connection.sessions() as session:
            if not postgresql:
                assert standalone_reads(session) is session
                return
            # The connection came back out of autocommit: a write rolled back leaves nothing.
            session.add(
                posts.new_post(author_id=user.id, slug="rolled-back", title="Gone", content="w")
            )
            session.flush()
            assert _autocommit_of(session.connection()) is False
            session.rollback()
        with session_factory() as session:
            assert session.scalar(select(Post.id).where(Post.slug == "rolled-back")) is None
