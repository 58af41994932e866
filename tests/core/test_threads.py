"""What runs where: which work takes a worker thread, how many there are, and that sessions let go
of their connections. Each thread hop costs a request more than the work these save it from."""

import asyncio
import gc
from pathlib import Path
from types import SimpleNamespace

import pytest
from anyio import to_thread
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.api import deps as dependencies
from app.core.database import THREADPOOL_SIZE, Database, make_engine, read_in_thread
from app.core.runtime import GC_YOUNG_THRESHOLD, settle_gc
from app.main import create_app
from app.users.models import User
from tests.utils.accounts import bearer, login


def test_thread_limiter_matches_the_connection_pool(tmp_path: Path, settings) -> None:
    app = create_app(settings)
    router = APIRouter()

    @router.get("/_threads")
    async def threads() -> dict[str, float]:
        return {"tokens": to_thread.current_default_thread_limiter().total_tokens}

    app.include_router(router)
    with TestClient(app) as client:
        assert client.get("/_threads").json() == {"tokens": THREADPOOL_SIZE}
    sqlite_file = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    try:
        # SQLite files too: their default pool (5 + 10) left clients queueing while threads idled.
        assert sqlite_file.pool.size() + sqlite_file.pool._max_overflow == THREADPOOL_SIZE  # type: ignore[attr-defined]
    finally:
        sqlite_file.dispose()


def test_db_pool_size_bounds_the_connections_a_process_keeps(tmp_path: Path, settings) -> None:
    """Several workers on one database server: each keeps DB_POOL_SIZE connections, no more
    (no overflow), so workers x DB_POOL_SIZE is all they open."""
    url = f"sqlite:///{tmp_path / 'small.db'}"
    small = Database.from_settings(
        settings.model_copy(update={"database_url": url, "db_pool_size": 3})
    )
    try:
        pool = small.engine.pool
        assert (pool.size(), pool._max_overflow) == (3, 0)  # type: ignore[attr-defined]
        held = [small.engine.connect() for _ in range(3)]
        try:
            assert pool.checkedout() == 3  # type: ignore[attr-defined]
        finally:
            for conn in held:
                conn.close()
    finally:
        small.dispose()


def test_get_db_gives_back_its_connection(database: Database) -> None:
    # get_db reads the app's Database off the request, and nothing else of it.
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(database=database)))
    engine = database.engine

    async def use(work: bool) -> Session:
        dependency = dependencies.get_db(request)  # type: ignore[arg-type]
        session = await dependency.__anext__()
        if work:
            await to_thread.run_sync(session.execute, text("SELECT 1"))
            assert session.in_transaction()
        await dependency.aclose()
        return session

    before = engine.pool.checkedout()
    for work in (True, False):
        session = asyncio.run(use(work))
        assert not session.in_transaction()
        assert engine.pool.checkedout() == before


def test_read_in_thread_releases_the_connection_in_the_same_hop(db: Session, make_user) -> None:
    user = make_user(name="Reader")

    def read(session: Session) -> User:
        return session.scalars(select(User).where(User.id == user.id)).one()

    async def run() -> User:
        return await read_in_thread(db, read, db)

    loaded = asyncio.run(run())
    assert not db.in_transaction()  # closed on the worker thread, before returning
    assert loaded.name == "Reader"  # detached, with what it loaded

    def fail(session: Session) -> None:
        session.execute(text("SELECT 1"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        asyncio.run(read_in_thread(db, fail, db))
    assert not db.in_transaction()


def test_only_a_credential_costs_a_thread(client: TestClient, make_user, monkeypatch) -> None:
    hops: list[str] = []
    real = dependencies.run_in_threadpool

    async def counting(function, *args, **kwargs):  # type: ignore[no-untyped-def]
        hops.append(function.__name__)
        return await real(function, *args, **kwargs)

    monkeypatch.setattr(dependencies, "run_in_threadpool", counting)
    user = make_user()
    headers = bearer(login(client, user.email)["access_token"])
    assert client.get("/posts").status_code == 200
    assert hops == []  # anonymous: resolving "nobody" needs no database
    assert client.get("/users/me", headers=headers).status_code == 200
    assert hops == ["user_from_access_token"]


def test_startup_freezes_the_heap_and_collects_less_often(client: TestClient) -> None:
    """Startup's objects are out of the collector's sight; it runs every GC_YOUNG_THRESHOLD net
    allocations instead of 700. Once per process, however many apps start."""
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    frozen = gc.get_freeze_count()
    settle_gc()
    assert gc.get_freeze_count() == frozen
