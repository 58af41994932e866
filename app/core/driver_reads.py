"""Reads that skip SQLAlchemy's execution: a statement compiled once, run on a DBAPI cursor.

A busy public read (the change marker, a page of the post list) runs one statement built
beforehand. Through a Session or a Connection each execution still pays for the execution
context, the result wrapper, per-row objects and per-value type processing in Python, which
together cost more than the driver's own work: `DriverRead` keeps only what the statement needs,
the SQL text and its bound values made ready by the column types' own bind processors, and the
types' result processors applied to the fetched tuples. The statement is still built with
SQLAlchemy (the same objects the ORM path runs), so the SQL is what SQLAlchemy would send.

A driver error becomes SQLAlchemy's own exception (`DBAPIError.instance`: OperationalError for a
lost server or a statement timeout, which the app answers 503), and a connection the error shows
lost is invalidated, as Connection does.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.core.database import CLIENT_SIDE_AUTOCOMMIT

Processor = Callable[[Any], Any]


def _placeholder(name: str) -> str:
    # How SQLAlchemy leaves a `literal_execute` parameter in the compiled string, to be rendered
    # at execution time; DriverRead checks it is there, so a change of form fails at once.
    return f"__[POSTCOMPILE_{name}]"


class DriverRead:
    """`stmt` compiled for `dialect`. `variables` are the bound parameters given at each call
    (bound with their types' processors); every other parameter is the statement's constant.
    `literals` are `literal_execute` parameters taking integers, written into the SQL text (a
    LIMIT that PostgreSQL sees as a constant plans the same way every time, so a prepared
    statement can keep its plan)."""

    def __init__(
        self,
        stmt: Select[*tuple[Any, ...]],
        dialect: Dialect,
        *,
        variables: Sequence[str] = (),
        literals: Sequence[str] = (),
    ) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.literals = tuple((name, _placeholder(name)) for name in literals)
        for name, placeholder in self.literals:
            if placeholder not in self.sql:
                raise ValueError(f"{name} is not a literal_execute parameter of the statement")
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        self.processors: dict[str, Processor | None] = {}
        constants: dict[str, Any] = {}
        unset = {name: None for name in (*variables, *literals)}
        for name, value in compiled.construct_params(unset).items():
            if name in literals:
                continue
            process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if name in variables:
                self.processors[name] = process
            else:
                constants[name] = value if process is None else process(value)
        # Named parameters go to the driver by their names in the SQL (escaped where SQLAlchemy
        # had to), positional ones in the order they appear.
        self.escaped = {name: escaped.get(name, name) for name in variables}
        positions = compiled.positiontup if dialect.positional else None
        self.order = None if positions is None else [n for n in positions if n not in literals]
        if self.order is None:
            constants = {escaped.get(name, name): value for name, value in constants.items()}
        self.constants = constants
        self.result_processors = tuple(
            (index, process)
            for index, column in enumerate(stmt.selected_columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        )

    def statement(self, values: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL text and the driver's parameters for these values."""
        sql = self.sql
        for name, placeholder in self.literals:
            sql = sql.replace(placeholder, str(int(values[name])))
        ready: dict[str, Any] = {}
        for name, process in self.processors.items():
            value = values.get(name)
            ready[name] = value if process is None or value is None else process(value)
        if self.order is None:
            named = dict(self.constants)
            for name, value in ready.items():
                named[self.escaped[name]] = value
            return sql, named
        return sql, tuple(ready[n] if n in ready else self.constants[n] for n in self.order)

    def fetch(self, dbapi_connection: Any, values: Mapping[str, Any]) -> list[Any]:
        """Every row, as tuples (lists where a column has a processor), processed."""
        sql, parameters = self.statement(values)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(sql, parameters)
            rows: list[Any] = list(cursor.fetchall())  # PyMySQL answers a tuple
        finally:
            cursor.close()
        if not self.result_processors:
            return rows
        processed = []
        for row in rows:
            values_ = list(row)
            for index, process in self.result_processors:
                values_[index] = process(values_[index])
            processed.append(values_)
        return processed


def fetch_pooled(engine: Engine, read: DriverRead, values: Mapping[str, Any]) -> list[Any]:
    """`read`'s rows on a connection of the engine's pool, in autocommit where the driver enters
    it on the client alone (no BEGIN before the read, no ROLLBACK at its return). The connection
    goes back with its autocommit undone or, if lost, invalidated; a driver error is raised as
    it is (fetch makes it SQLAlchemy's). A plain try, not a context manager: this is most of
    what a cached page costs."""
    fairy = engine.raw_connection()
    dbapi_connection: Any = fairy.dbapi_connection
    autocommit = engine.dialect.driver in CLIENT_SIDE_AUTOCOMMIT
    try:
        if autocommit:
            dbapi_connection.autocommit = True
        rows = read.fetch(dbapi_connection, values)
        if autocommit:
            dbapi_connection.autocommit = False
        return rows
    except BaseException as exc:
        dialect = engine.dialect
        if isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
            exc, dbapi_connection, None
        ):
            fairy.invalidate(exc)
        elif autocommit:
            try:
                dbapi_connection.autocommit = False
            except dialect.loaded_dbapi.Error as lost:
                fairy.invalidate(lost)
        raise
    finally:
        fairy.close()


def fetch(session: Session, read: DriverRead, values: Mapping[str, Any]) -> list[Any]:
    """`read`'s rows with `values`: on the session's own connection when it holds one (a
    transaction under way, or a connection lent by a test), else on a pooled one."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else None
    dialect = bind.dialect
    try:
        if engine is None or session.in_transaction():
            held: Connection = session.connection()
            return read.fetch(held.connection.dbapi_connection, values)
        return fetch_pooled(engine, read, values)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            read.sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
        ) from exc
