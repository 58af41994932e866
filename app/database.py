"""Engine, session factory and the `get_db` dependency."""

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from app.config import get_settings

SQLITE_BEGIN = "quill_sqlite_begin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Threads Starlette runs sync endpoints on; the pool matches so no request waits for a connection
# while a thread is free.
THREADPOOL_SIZE = 40


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; hand it to SQLAlchemy (see the
    # "Serializable isolation / Savepoints" recipe in the SQLAlchemy SQLite docs).
    dbapi_connection.isolation_level = None
    # SQLite's lower() folds ASCII only; search must be case-insensitive for every script.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A deferred transaction that reads and then writes fails at once ("database is locked") if
    # another connection committed in between: busy_timeout cannot help, the snapshot is stale.
    # Requests that may write therefore take the write lock up front (BEGIN IMMEDIATE) and wait
    # their turn; reads stay deferred and run side by side under WAL.
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(SQLITE_BEGIN, 'DEFERRED')}")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs["pool_size"] = THREADPOOL_SIZE // 2
        kwargs["max_overflow"] = THREADPOOL_SIZE // 2
    if backend in ("mysql", "mariadb"):
        kwargs["connect_args"] = {"charset": "utf8mb4"}
        # MySQL drops idle connections (wait_timeout); check before use instead of failing.
        kwargs["pool_pre_ping"] = True
        kwargs["pool_recycle"] = 3600
    engine = create_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


engine = make_engine(get_settings().database_url)
# The same pool; only SQLite reads the option (see _sqlite_begin).
write_engine = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
SessionLocal = sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


def get_db(request: Request) -> Iterator[Session]:
    bind = engine if request.method in SAFE_METHODS else write_engine
    with SessionLocal(bind=bind) as session:
        yield session


def ping(session: Session) -> None:
    """Raise if the database cannot answer a trivial query."""
    session.execute(text("SELECT 1"))
