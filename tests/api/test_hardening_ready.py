"""/ready: 503 unless the database answers with its schema at the latest migration."""

from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import URL, Engine, text
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.api.routes.health import schema_head
from app.core.database import make_engine


def _assert_not_ready(app: FastAPI) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/ready")
    assert response.status_code == 503, response.text
    body = response.json()
    assert (body["success"], body["code"]) == (False, "DATABASE_UNAVAILABLE")
    assert response.headers["retry-after"]


def test_ready_at_head(client: TestClient) -> None:
    assert client.get("/ready").json() == {"status": "ok", "database": "ok"}


def test_not_ready_at_an_older_revision(app: FastAPI, db: Session) -> None:
    # Rolled back with the test's transaction.
    db.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert schema_head() != "0001"
    _assert_not_ready(app)


def _without_alembic_version(engine: Engine, tmp_path: Path) -> str:
    """A database this server can reach that has no alembic_version table: a fresh SQLite file;
    on MariaDB no database at all (as after DROP DATABASE); PostgreSQL's maintenance database."""
    url = engine.url
    if url.get_backend_name() == "mysql":
        no_database = URL.create(url.drivername, url.username, url.password, url.host, url.port)
        return no_database.render_as_string(hide_password=False)
    if url.get_backend_name() == "postgresql":
        return url.set(database="postgres").render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / 'empty.db'}"


def test_not_ready_without_alembic_version(app: FastAPI, engine: Engine, tmp_path: Path) -> None:
    empty = make_engine(_without_alembic_version(engine, tmp_path))

    def _empty_db() -> Iterator[Session]:
        with Session(empty) as session:
            yield session

    app.dependency_overrides[get_db] = _empty_db
    try:
        _assert_not_ready(app)
    finally:
        empty.dispose()
