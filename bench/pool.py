"""Pool churn: how many new PostgreSQL sessions Quill opens while 32 clients read through the
database, after a warm-up has filled its pool. A pool that overflows opens and closes
connections under load (each a PostgreSQL backend started and torn down); Quill's pool keeps as
many connections as its worker threads and never overflows, so the answer should be 0.

The figure is pg_stat_database.sessions of the bench's database, read before and after the run
by a connection of the harness's own (its two sessions are taken off).
"""

import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench import wrk
from bench.checks import Check, verdict
from bench.servers import Server

CONNECTIONS = 32
# A backend reports its new session to the statistics at most once a second.
STATS_DELAY = 2.0


def _sessions(database_url: str) -> tuple[int, int]:
    """(sessions ever opened on the database, other sessions open on it now)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            opened = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            held = (
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int(conn.scalar(text(opened)) or 0), int(conn.scalar(text(held)) or 0)
    finally:
        engine.dispose()


def churn(
    server: Server,
    path: str,
    database_url: str,
    *,
    script: str | None,
    lua_env: dict[str, str],
    duration: float,
    warmup: float,
    cpu: str | None,
) -> list[Check]:
    name = f"new PostgreSQL sessions under {CONNECTIONS} clients ({path})"
    if not database_url.startswith("postgresql"):
        return [Check(name, "-", "0", "SKIPPED", "PostgreSQL only")]
    options = {"script": script, "lua_env": lua_env, "cpu": cpu, "connections": CONNECTIONS}
    wrk.run(server.base + path, duration=warmup, **options)  # type: ignore[arg-type]
    time.sleep(STATS_DELAY)
    before, held_before = _sessions(database_url)
    result = wrk.run(server.base + path, duration=duration, **options)  # type: ignore[arg-type]
    time.sleep(STATS_DELAY)
    after, held_after = _sessions(database_url)
    opened = after - before - 1  # the second probe's own session
    # A pool reaching a new peak opens a connection and keeps it: growth, not churn.
    churn = opened - max(held_after - held_before, 0)
    return [
        Check(
            name,
            f"{churn} opened and closed in {duration:g} s ({opened} opened, {held_after} kept "
            f"open after, {held_before} before; {result.rps:.0f} req/s, {result.errors} errors)",
            "0 opened and closed",
            verdict(churn == 0 and result.errors == 0),
        )
    ]
