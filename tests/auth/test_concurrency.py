"""Real concurrency against the real session factory (no rolled-back test transaction)."""

import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from app.auth.models import LoginAttempt, LoginThrottle, RefreshToken
from app.main import create_app
from app.users.models import User
from tests.utils.accounts import PASSWORD


@pytest.fixture
def committed_user(session_factory, password_hash: str):
    email = "concurrent@example.com"
    with session_factory() as session:
        user = User(email=email, hashed_password=password_hash, name="C")
        session.add(user)
        session.commit()
        user_id = user.id
    yield email
    with session_factory() as session:
        session.execute(delete(RefreshToken).where(RefreshToken.user_id == user_id))
        session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
        session.execute(delete(LoginThrottle).where(LoginThrottle.email == email))
        session.execute(delete(User).where(User.id == user_id))
        session.commit()


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
