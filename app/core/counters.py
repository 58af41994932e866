"""Counter rows that writes add to (the post counters, the public version): one way to add,
and one shard per connection, for every counter table."""

import random
from typing import Any

from sqlalchemy import Connection, and_, update
from sqlalchemy.dialects import mysql, postgresql, sqlite

from app.core.models import Base

# A hot counter is SHARDS rows that reads sum, so concurrent writers rarely wait on one another.
SHARDS = 8
SHARD = "quill_counter_shard"


def shard(conn: Connection) -> int:
    """The connection's shard, the same for all its transactions: chosen once at random and kept
    with its pooled DBAPI connection."""
    chosen: int = conn.info.setdefault(SHARD, random.randrange(SHARDS))  # noqa: S311 - no secret
    return chosen


def add(conn: Connection, model: type[Base], key: dict[str, Any], delta: int) -> None:
    """Add `delta` to the `n` of `model`'s row at `key` (its primary key), creating the row when
    it is the first. An UPDATE first, the common case; when it finds no row, an upsert: on
    PostgreSQL that UPDATE neither sees nor waits for another transaction's uncommitted insert of
    the same row, and a plain INSERT would then fail on the key once that one commits."""
    columns = model.__table__.c
    where = and_(*(columns[name] == value for name, value in key.items()))
    done = conn.execute(update(model).where(where).values(n=columns.n + delta))
    if done.rowcount == 0:
        conn.execute(_upsert(conn.dialect.name, model, {**key, "n": delta}, list(key)))


def _upsert(backend: str, model: type[Base], row: dict[str, Any], key: list[str]) -> Any:
    n = model.__table__.c.n
    if backend in ("postgresql", "sqlite"):
        stmt = (postgresql.insert if backend == "postgresql" else sqlite.insert)(model)
        return stmt.values(row).on_conflict_do_update(
            index_elements=key, set_={"n": n + stmt.excluded.n}
        )
    my = mysql.insert(model).values(row)
    return my.on_duplicate_key_update(n=n + my.inserted.n)
