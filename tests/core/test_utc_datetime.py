"""UTCDateTime gives naive times their zone with datetime.combine, and reads SQLite's text in one
call (app/core/models.py): the datetimes must be those `replace(tzinfo=UTC)` after SQLAlchemy's
reading gave, for every text a column may hold, and every naive time a driver hands back."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import processors

from app.core.models import UTCDateTime

TEXTS = [
    "2025-10-01 16:16:53.995015",  # what SQLAlchemy writes
    "2025-10-01 16:16:53.000000",
    "2024-02-03 04:05:06",  # written by hand, or by SQL's CURRENT_TIMESTAMP
    "2024-02-03 04:05",
    "2024-02-03T04:05:06.5",
    "2024-02-03",  # a date alone
    "2024-02-03 04:05:06+02:00",  # a zone of its own
    "2024-02-03 04:05:06+00:00",
    "2024-02-03T04:05:06Z",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59.999999",
]
BAD = ["", "yesterday", "2024-13-01 00:00:00", "2024-02-03 04:05:06 ", "2024-02-03 04:05:06+0"]


def _as_before(value: datetime | None) -> datetime | None:
    """process_result_value as it was."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _same(got: datetime | None, expected: datetime | None) -> bool:
    if got is None or expected is None:
        return got is expected
    return (got.isoformat(), got.tzinfo, got.fold) == (
        expected.isoformat(),
        expected.tzinfo,
        expected.fold,
    )


def _reader(dialect: object) -> object:
    return UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [*TEXTS, None])
def test_sqlite_text_reads_as_before(value: str | None) -> None:
    read = _reader(sqlite.dialect())
    assert read.__name__ == "_utc_from_text"  # type: ignore[attr-defined]  # one call a value
    assert _same(read(value), _as_before(processors.str_to_datetime(value)))  # type: ignore[operator]


@pytest.mark.parametrize("value", BAD)
def test_text_that_is_no_time_fails_as_before(value: str) -> None:
    with pytest.raises(ValueError):
        processors.str_to_datetime(value)
    with pytest.raises(ValueError):
        _reader(sqlite.dialect())(value)  # type: ignore[operator]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 10, 1, 16, 16, 53, 995015),
        datetime(2025, 10, 1, 1, 30, fold=1),
        datetime(1, 1, 1),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
        datetime(2025, 10, 1, 16, 16, 53, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2025, 10, 1, 16, 16, 53, tzinfo=UTC),
    ],
)
def test_driver_datetimes_read_as_before(value: datetime) -> None:
    """MariaDB's driver hands back naive times, PostgreSQL's zoned ones."""
    for dialect in (mysql.dialect(), sqlite.dialect()):
        assert _same(UTCDateTime().process_result_value(value, dialect), _as_before(value))


def test_sqlite_rows_read_as_before() -> None:
    table = Table("times", MetaData(), Column("at", UTCDateTime))
    engine = create_engine("sqlite://")
    table.create(engine)
    written = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO times (at) VALUES (?)", [(text,) for text in TEXTS])
        conn.execute(insert(table), [{"at": written}])
        read = list(conn.scalars(select(table.c.at)))
    expected = [_as_before(processors.str_to_datetime(text)) for text in TEXTS] + [written]
    assert all(_same(got, want) for got, want in zip(read, expected, strict=True))
