"""Statements run on the driver's cursor (app.core.driver_reads): the rows SQLAlchemy's execution
gives, SQLAlchemy's exceptions, pooled connections handed back as they were (or invalidated), and
the list's LIMIT written into its SQL."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, bindparam, func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from app.core import driver_reads
from app.core.database import make_engine
from app.core.driver_reads import DriverRead
from app.core.pagination import PageParams
from app.posts import public
from app.posts import service as posts
from app.posts.schemas import PostCreate


@pytest.fixture
def own_engine(engine: Engine) -> Iterator[Engine]:
    """An engine of one pooled connection on the test database, outside the test's transaction."""
    own = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        yield own
    finally:
        own.dispose()


@pytest.fixture
def listed(db: Session, make_user) -> int:
    author = make_user("driver-reads@example.com", name="Driver")
    for n in range(5):
        tags = ["driven", f"n{n}"]
        data = PostCreate(title=f"Driven {n}", content="c", tags=tags, published=True)
        posts.create_post(db, author=author, data=data)
    return author.id


@pytest.mark.parametrize(
    "filters", [{}, {"author_id": True}, {"tag": "driven"}, {"author_id": True, "tag": "n3"}]
)
@pytest.mark.parametrize("page", [PageParams(1, 2), PageParams(2, 2), PageParams(9, 2)])
def test_the_rows_are_those_sqlalchemy_gives(
    db: Session, listed: int, filters: dict[str, Any], page: PageParams
) -> None:
    author_id = listed if filters.get("author_id") else None
    query = public.page_query(
        db.get_bind().dialect.name, page, author_id=author_id, tag=filters.get("tag")
    )
    dialect = db.get_bind().dialect
    for statement in (query.rows, query.total):
        literals = public.LITERALS if statement is query.rows else ()
        read = DriverRead(statement, dialect, variables=public.VARIABLES, literals=literals)
        expected = [list(row) for row in db.execute(statement, query.parameters).all()]
        assert [list(row) for row in driver_reads.fetch(db, read, query.parameters)] == expected
    assert expected  # the total has its row
    assert "__[POSTCOMPILE" not in read.statement(query.parameters)[0]


def test_a_literal_must_be_written_at_execution() -> None:
    stmt = select(Column("n", Integer)).limit(bindparam("bound", type_=Integer()))
    with pytest.raises(ValueError, match="bound"):
        DriverRead(stmt, make_engine("sqlite://").dialect, literals=("bound",))


def test_a_driver_error_is_sqlalchemys_and_leaves_the_pool_usable(own_engine: Engine) -> None:
    missing = Table("no_such_table_here", MetaData(), Column("id", Integer))
    read = DriverRead(select(missing.c.id), own_engine.dialect)
    with Session(own_engine) as session:
        with pytest.raises(DBAPIError) as raised:
            driver_reads.fetch(session, read, {})
        assert isinstance(raised.value.orig, own_engine.dialect.loaded_dbapi.Error)
        assert raised.value.hide_parameters
        one = DriverRead(
            select(func.count()).select_from(text("(SELECT 1) AS one")), own_engine.dialect
        )
        assert driver_reads.fetch(session, one, {}) == [(1,)]


def test_a_pooled_read_runs_in_autocommit_on_psycopg_and_hands_the_connection_back(
    own_engine: Engine,
) -> None:
    if own_engine.dialect.driver != "psycopg":
        pytest.skip("only psycopg enters autocommit on the client alone")
    from psycopg.pq import TransactionStatus

    class Observed(DriverRead):
        def fetch(self, dbapi_connection: Any, values: Any) -> list[Any]:
            rows = super().fetch(dbapi_connection, values)
            # No transaction was opened for the read: no BEGIN went out, and no ROLLBACK will.
            seen.append(dbapi_connection.info.transaction_status)
            return rows

    seen: list[Any] = []
    read = Observed(select(func.pg_backend_pid()), own_engine.dialect)
    pid = driver_reads.fetch_pooled(own_engine, read, {})[0][0]
    assert seen == [TransactionStatus.IDLE]
    with own_engine.connect() as after:
        assert after.connection.dbapi_connection.autocommit is False
        assert after.scalar(select(func.pg_backend_pid())) == pid  # the same, handed back


def test_a_lost_connection_is_invalidated(own_engine: Engine, engine: Engine) -> None:
    if own_engine.dialect.name != "postgresql":
        pytest.skip("MariaDB's pool pings before use, and SQLite has no server to lose")
    read = DriverRead(select(func.pg_backend_pid()), own_engine.dialect)
    with Session(own_engine) as session:
        first = driver_reads.fetch(session, read, {})[0][0]
    with engine.connect() as killer:
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    with Session(own_engine) as session:
        with pytest.raises(OperationalError):
            driver_reads.fetch(session, read, {})
        second = driver_reads.fetch(session, read, {})[0][0]
    assert second != first


@pytest.mark.parametrize("filters", [{}, {"author_id": 3}, {"tag": "driven"}])
def test_the_lists_limit_and_offset_are_in_its_sql(db: Session, filters: dict[str, Any]) -> None:
    """PostgreSQL keeps a prepared statement's plan only if the plan made without the values is
    as good; one that cannot see the LIMIT joins every row, so a bound LIMIT was planned anew at
    every execution (the bench's PostgreSQL CPU per request shows it)."""
    dialect = db.get_bind().dialect
    query = public.page_query(dialect.name, PageParams(4, 7), **filters)
    read = DriverRead(query.rows, dialect, variables=public.VARIABLES, literals=public.LITERALS)
    sql, parameters = read.statement(query.parameters)
    assert re.search(r"LIMIT (21, 7|7 OFFSET 21)\b", sql), sql
    assert 7 not in (parameters.values() if isinstance(parameters, dict) else parameters)
