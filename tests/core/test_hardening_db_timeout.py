"""DB_TIMEOUT_SECONDS: a database that accepts connections but never answers gives an error (503
over HTTP) within about the timeout, on every backend; statements are bounded too."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.core.database import make_engine

TIMEOUT = 1
# libpq and psycopg never wait less than 2 s to connect, whatever connect_timeout says.
BOUND = TIMEOUT + 2.0


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A server on 127.0.0.1 that accepts every connection and never sends a byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def _silent_urls(port: int) -> dict[str, str]:
    return {
        "postgresql": f"postgresql+psycopg://quill@127.0.0.1:{port}/quill",
        "mysql": f"mysql+pymysql://quill@127.0.0.1:{port}/quill",
    }


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_first_query_on_a_silent_server_fails_within_the_timeout(
    silent_port: int, backend: str
) -> None:
    engine = make_engine(_silent_urls(silent_port)[backend], timeout=TIMEOUT)
    start = time.monotonic()
    try:
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert time.monotonic() - start < BOUND


@pytest.mark.parametrize(
    ("backend", "paths"), [("mysql", ["/ready", "/posts/1"]), ("postgresql", ["/ready"])]
)
def test_routes_answer_503_within_the_timeout(
    app: FastAPI, silent_port: int, backend: str, paths: list[str]
) -> None:
    engine = make_engine(_silent_urls(silent_port)[backend], timeout=TIMEOUT)

    def _silent_db() -> Iterator[Session]:
        with Session(engine) as session:
            yield session

    app.dependency_overrides[get_db] = _silent_db
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            for path in paths:
                start = time.monotonic()
                response = client.get(path)
                assert time.monotonic() - start < BOUND, path
                assert response.status_code == 503, response.text
                body = response.json()
                assert body["success"] is False
                assert body["code"] == "DATABASE_UNAVAILABLE"
                assert body["request_id"] == response.headers["x-request-id"]
    finally:
        engine.dispose()


def test_statements_are_bounded_on_the_test_database(engine: Engine, settings) -> None:
    bounded = make_engine(settings.database_url, timeout=TIMEOUT)
    try:
        with bounded.connect() as conn:
            backend = conn.dialect.name
            if backend == "sqlite":
                # SQLite has no server to hang; its wait is for a lock, bounded by busy_timeout.
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == TIMEOUT * 1000
                return
            sleep = "SELECT pg_sleep(5)" if backend == "postgresql" else "SELECT SLEEP(5)"
            start = time.monotonic()
            with pytest.raises(OperationalError):
                conn.execute(text(sleep))
            assert time.monotonic() - start < TIMEOUT + 1.5
    finally:
        bounded.dispose()


def test_a_statement_past_the_timeout_stops_on_the_server_too(engine: Engine, settings) -> None:
    """The client giving up is not enough: the server must not go on running the statement."""
    bounded = make_engine(settings.database_url, timeout=TIMEOUT)
    backend = bounded.dialect.name
    if backend == "sqlite":
        bounded.dispose()
        pytest.skip("SQLite runs in the process: there is no server to go on")
    marker = f"/* left-running-{time.monotonic_ns()} */"
    sleep = "pg_sleep(5)" if backend == "postgresql" else "SLEEP(5)"
    try:
        with bounded.connect() as conn, pytest.raises(OperationalError):
            conn.execute(text(f"SELECT {marker} {sleep}"))
    finally:
        bounded.dispose()
    time.sleep(0.5)
    running = (
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE :pattern"
        if backend == "postgresql"
        else "SELECT count(*) FROM information_schema.processlist "
        "WHERE command = 'Query' AND info LIKE :pattern"
    )
    with engine.connect() as conn:
        left = conn.scalar(text(running), {"pattern": f"SELECT {marker}%"})
    assert left == 0
