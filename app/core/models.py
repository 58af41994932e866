"""The declarative base and column types every domain's tables share."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect, processors
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations can drop/alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend.

    PostgreSQL stores `timestamptz`; SQLite and MySQL have no zone, so values are stored as naive
    UTC and handed back with `tzinfo=UTC`. MySQL gets microseconds (`DATETIME(6)`) so that
    ordering by time has the same resolution everywhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if self.impl_instance.result_processor(dialect, coltype) is processors.str_to_datetime:
            # SQLite's text: one function for both steps (SQLAlchemy's would call two per value).
            return _utc_from_text
        return super().result_processor(dialect, coltype)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        # combine, not replace(tzinfo=UTC): the same datetime, but replace parses its keyword
        # arguments at several times the cost, and a list reads four times a row.
        return datetime.combine(value, value.time(), UTC)
    return value.astimezone(UTC)


def _utc_from_text(value: str | None) -> datetime | None:
    """processors.str_to_datetime, then process_result_value."""
    return None if value is None else _as_utc(datetime.fromisoformat(value))


# Emails compare byte for byte on every backend (they are stored NFC and lower-cased): MySQL's
# default collations would make `xé@` and `xe@` one address there and two elsewhere.
EmailColumn = String(254).with_variant(
    mysql.VARCHAR(254, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# Tables whose ids leave the server: on SQLite, AUTOINCREMENT, so a deleted row's id is never
# handed to a new row (migration 0006). PostgreSQL and MariaDB never reuse ids anyway.
NO_ID_REUSE = {"sqlite_autoincrement": True}
