"""`Database` (an engine and its session factory, built from Settings), `locking` and
`read_in_thread`. create_app puts one `Database` on app.state; app.api.deps opens request sessions.

On SQLite, request sessions open their transaction at the first write (see _sqlite_first_write).
"""

from collections.abc import Callable
from functools import partial
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, Select, create_engine, event, text
from sqlalchemy.engine import ExecutionContext, make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings

# Execution options. BEGIN_AT_FIRST_WRITE: the request sessions' engine (see _sqlite_begin);
# LOCKS: a read that must hold the write lock, like SELECT ... FOR UPDATE (see `locking`).
BEGIN_AT_FIRST_WRITE = "quill_begin_at_first_write"
LOCKS = "quill_locks"
# SAVEPOINT too: a request opens one only to write in it (a slug claim, a counted flush), and
# one opened as a plain read transaction could not take the write lock later (see below).
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")

# Threads Starlette runs sync endpoints on (app.main sets anyio's limiter to it); the pool matches
# so no request waits for a connection while a thread is free.
THREADPOOL_SIZE = 40


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_timeout_ms: int = 5000) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; hand it to SQLAlchemy (see the
    # "Serializable isolation / Savepoints" recipe in the SQLAlchemy SQLite docs).
    dbapi_connection.isolation_level = None
    # SQLite's lower() folds ASCII only; search must be case-insensitive for every script.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(BEGIN_AT_FIRST_WRITE):
        return  # _sqlite_first_write opens it, if the transaction ever writes
    conn.exec_driver_sql("BEGIN")


def _sqlite_first_write(
    conn: Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    context: ExecutionContext | None,
    _executemany: bool,
) -> None:
    """Open request transactions at their first write, with the write lock (BEGIN IMMEDIATE).

    A transaction that reads and then writes cannot take SQLite's write lock once another
    connection has committed since its read: SQLite answers SQLITE_BUSY at once, without waiting
    out busy_timeout, so under concurrent POST /posts most answers were 503. Taking the lock at
    BEGIN for every session would instead hold it across the thread hops of a request, and the
    threads queued for it can leave the holder none to finish on. So the reads before the first
    write run on their own, each seeing the latest commit (as READ COMMITTED does on PostgreSQL
    and MySQL), and the lock is held from the first write to the commit, which services issue
    right after writing.
    """
    options = context.execution_options if context is not None else conn.get_execution_options()
    if not options.get(BEGIN_AT_FIRST_WRITE) or not conn.in_transaction():
        return
    raw = conn.connection.driver_connection
    if raw is None or raw.in_transaction:
        return
    if options.get(LOCKS) or statement.lstrip()[:9].upper().startswith(_WRITE_VERBS):
        raw.execute("BEGIN IMMEDIATE")


def _timeout_args(backend: str, seconds: int, statement_timeout: bool) -> dict[str, Any]:
    """Driver arguments that bound connecting and every statement by `seconds`."""
    if backend == "postgresql":
        args: dict[str, Any] = {
            # libpq (and psycopg) wait at least 2 s here, whatever is asked.
            "connect_timeout": seconds,
            # A server that stops answering mid-connection (a dead host, a partition): the
            # kernel gives up on unacknowledged data after tcp_user_timeout, and keepalives
            # notice an idle peer that vanished.
            "tcp_user_timeout": seconds * 1000,
            "keepalives": 1,
            "keepalives_idle": seconds,
            "keepalives_interval": 1,
            "keepalives_count": 3,
        }
        if statement_timeout:
            args["options"] = f"-c statement_timeout={seconds * 1000}"
        return args
    if backend in ("mysql", "mariadb"):
        # pymysql's read_timeout also bounds the handshake, where a silent server would hang.
        args = {"connect_timeout": seconds, "write_timeout": seconds}
        if statement_timeout:
            args["read_timeout"] = seconds
        return args
    return {"timeout": seconds}  # sqlite3: how long to wait for a lock


def _mysql_statement_limit(dbapi_connection: Any, _record: Any, seconds: int) -> None:
    """pymysql's read_timeout stops the wait, not the statement: the server went on running it
    (a page of a huge unindexed sort kept MariaDB busy for minutes after the 503). The server's
    own limit stops it there too."""
    cursor = dbapi_connection.cursor()
    try:
        if "MariaDB" in dbapi_connection.get_server_info():
            cursor.execute(f"SET SESSION max_statement_time = {int(seconds)}")
        else:  # MySQL: SELECTs only, in milliseconds
            cursor.execute(f"SET SESSION max_execution_time = {int(seconds) * 1000}")
    finally:
        cursor.close()


# The setting's default, for engines built without settings at hand (tests, tools).
DEFAULT_TIMEOUT_SECONDS: int = Settings.model_fields["db_timeout_seconds"].default


def make_engine(
    url: str,
    *,
    timeout: int = DEFAULT_TIMEOUT_SECONDS,
    statement_timeout: bool = True,
    pool_size: int = THREADPOOL_SIZE,
) -> Engine:
    """`timeout`: the app's DB_TIMEOUT_SECONDS (Database.from_settings passes it).
    `statement_timeout=False` (migrations, which may rewrite big tables) bounds only connecting."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    connect_args = _timeout_args(backend, timeout, statement_timeout)
    if isinstance(parsed.query.get("options"), str) and "options" in connect_args:
        # Keep the URL's own `?options=-c ...` too: connect_args would replace it.
        connect_args["options"] = f"{parsed.query['options']} {connect_args['options']}"
    # Tracebacks of database errors would otherwise carry password hashes, key digests, emails.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if backend == "sqlite":
        connect_args["check_same_thread"] = False
    if parsed.database not in (None, "", ":memory:"):
        # SQLite files too: with their default pool (5 + 10), concurrent clients queued for
        # connections while threads were free. All of them kept, no overflow: an overflow
        # connection is closed when it comes back, so 32 clients opened and closed database
        # sessions all the time (a PostgreSQL backend process each).
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = 0
        kwargs["pool_timeout"] = timeout
    if backend in ("mysql", "mariadb"):
        connect_args["charset"] = "utf8mb4"
        # MySQL drops idle connections (wait_timeout); check before use instead of failing.
        kwargs["pool_pre_ping"] = True
        kwargs["pool_recycle"] = 3600
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    if backend in ("mysql", "mariadb") and statement_timeout:
        event.listen(engine, "connect", partial(_mysql_statement_limit, seconds=timeout))
    if backend == "sqlite":
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms=timeout * 1000))
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _sqlite_first_write)
    return engine


def locking(stmt: Select[Any]) -> Select[Any]:
    """SELECT ... FOR UPDATE on every backend: row locks where there are any, and on SQLite,
    which has none, the write lock taken before the read."""
    return stmt.with_for_update().execution_options(**{LOCKS: True})


def for_requests(engine: Engine) -> Engine:
    """The same engine and pool, with transactions that begin at their first write on SQLite."""
    return engine.execution_options(**{BEGIN_AT_FIRST_WRITE: True})


class Database:
    """One engine, its pool, and the factory of request sessions on it.

    Built by create_app (and the CLI, and tests) from a Settings; nothing builds one at import.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(
            bind=for_requests(engine), autoflush=False, expire_on_commit=False
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        return cls(
            make_engine(
                settings.database_url,
                timeout=settings.db_timeout_seconds,
                pool_size=settings.db_pool_size,
            )
        )

    def dispose(self) -> None:
        self.engine.dispose()


async def release(session: Session) -> None:
    """Close a request's session.

    Closing one that still holds a connection is I/O (the pool rolls it back), so that goes to a
    worker thread, and only then: most reads have already given theirs back (read_in_thread).
    """
    if session.in_transaction():
        await run_in_threadpool(session.close)
    else:
        session.close()


def ping(session: Session) -> None:
    """Raise if the database cannot answer a trivial query."""
    session.execute(text("SELECT 1"))


P = ParamSpec("P")
T = TypeVar("T")


async def read_in_thread(
    session: Session, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run a read on a worker thread, and hand the session's connection back to the pool there
    before returning: one thread hop instead of two (get_db then has nothing left to close).
    What it returns is detached from the session, with everything it loaded."""

    def read() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            session.close()

    return await run_in_threadpool(read)


# Drivers that enter and leave autocommit on the client alone: psycopg. PyMySQL sends
# `SET AUTOCOMMIT` each way, and SQLite's reads cross no network.
CLIENT_SIDE_AUTOCOMMIT = frozenset({"psycopg"})


def standalone_reads(session: Session) -> Session | Connection:
    """Where a read sends statements that each stand on their own (nothing it reads must agree
    with what another of its statements read): on PostgreSQL, a pooled connection in autocommit.
    psycopg then sends no BEGIN before the statement, and the pool's reset on return no
    ROLLBACK: one round trip instead of three. PostgreSQL's default READ COMMITTED gives each
    statement its own snapshot in a transaction too, so what is read is the same. Elsewhere, and
    for a session already in a transaction or lent a connection (tests), the session itself."""
    bind = session.get_bind()
    if (
        isinstance(bind, Engine)
        and bind.dialect.driver in CLIENT_SIDE_AUTOCOMMIT
        and not session.in_transaction()
    ):
        return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session
