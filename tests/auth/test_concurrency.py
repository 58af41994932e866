"""Real concurrency against the real session factory (no rolled-back test transaction)."""

import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.utils.accounts import PASSWORD
from tests.utils.db import committed_user as committed


@pytest.fixture
def committed_user(session_factory, password_hash: str):
    with committed(session_factory, email="concurrent@example.com", hashed_password=password_hash):
        yield "concurrent@example.com"


@pytest.fixture
def engine_ready(engine):
    return engine


def test_concurrent_logins_never_fail(committed_user: str, settings) -> None:
    """Each login reads, hashes, then writes; on SQLite a stale read snapshot would turn the write
    into 'database is locked' (503) unless writes take their lock up front."""
    app = create_app(settings)
    statuses: Counter[int] = Counter()
    barrier = threading.Barrier(6)

    with TestClient(app) as client:

        def worker() -> None:
            barrier.wait()
            for _ in range(4):
                response = client.post(
                    "/auth/login", json={"email": committed_user, "password": PASSWORD}
                )
                statuses[response.status_code] += 1

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert statuses == {200: 24}
