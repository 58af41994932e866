"""Rate limits kept in the real Redis on 127.0.0.1:6379 (REDIS_URL): two apps, and two server
processes, share one count; a Redis that fails turns no request into a 500, and the limits go on
in each process's memory. Each test's keys carry a prefix of its own and are deleted after it."""

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.database import Database
from app.main import create_app
from tests.utils.servers import REPO_ROOT, free_port, serve
from tests.utils.settings import run_environment

REDIS_URL = "redis://127.0.0.1:6379/0"
BROKEN_JSON = b'{"email": '


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix no other test (or helper) uses; its keys are gone after the test."""
    name = f"quill-test-{uuid.uuid4().hex}"
    yield name
    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(f"{name}:*"))
        if keys:
            client.delete(*keys)


def limited_settings(settings: Settings, **changes: object) -> Settings:
    update = {
        "rate_limit_enabled": True,
        "rate_limit_auth": "3/minute",
        "redis_url": REDIS_URL,
        **changes,
    }
    return settings.model_copy(update=update)


def knock(client: TestClient | httpx.Client, base: str = "") -> int:
    """POST /auth/login with a body that does not parse: 422 unless the limit answers first."""
    return client.post(base + "/auth/login", content=BROKEN_JSON).status_code


def test_two_apps_on_one_redis_share_the_count(
    settings: Settings, database: Database, prefix: str
) -> None:
    shared = limited_settings(settings, rate_limit_key_prefix=prefix)
    first = TestClient(create_app(shared, database=database), client=("203.0.113.5", 1))
    second = TestClient(create_app(shared, database=database), client=("203.0.113.5", 2))
    with first, second:
        assert [knock(first), knock(first), knock(second)] == [422, 422, 422]
        over = second.post("/auth/login", content=BROKEN_JSON)
        assert over.status_code == 429 and over.json()["code"] == "RATE_LIMITED"
        assert 55 <= int(over.headers["Retry-After"]) <= 60
        assert knock(first) == 429
    with redis.Redis.from_url(REDIS_URL) as client:
        assert list(client.scan_iter(f"{prefix}:*")), "the count was not kept in Redis"


def test_separate_prefixes_count_apart(settings: Settings, database: Database, prefix: str) -> None:
    apps = [
        create_app(
            limited_settings(settings, rate_limit_key_prefix=f"{prefix}:{n}"), database=database
        )
        for n in ("a", "b")
    ]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        assert [knock(first) for _ in range(4)] == [422, 422, 422, 429]
        assert knock(second) == 422


def test_two_server_processes_on_one_redis_share_the_count(tmp_path: Path, prefix: str) -> None:
    common = {
        **os.environ,
        **run_environment(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_AUTH": "3/minute",
        "REDIS_URL": REDIS_URL,
        "RATE_LIMIT_KEY_PREFIX": prefix,
    }
    env_a = {**common, "PORT": str(free_port())}
    env_b = {**common, "PORT": str(free_port())}
    with (
        serve(env_a, cwd=REPO_ROOT, log=tmp_path / "a.log") as a,
        serve(env_b, cwd=REPO_ROOT, log=tmp_path / "b.log") as b,
        httpx.Client() as http,
    ):
        assert [knock(http, a), knock(http, b), knock(http, a)] == [422, 422, 422]
        over = http.post(b + "/auth/login", content=BROKEN_JSON)
        assert over.status_code == 429 and over.json()["code"] == "RATE_LIMITED"
        assert int(over.headers["Retry-After"]) >= 1
        assert knock(http, a) == 429


def test_redis_down_fails_over_to_memory_without_a_500(
    settings: Settings, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app(limited_settings(settings, redis_url=down), database=database)
    with caplog.at_level(logging.WARNING, logger="quill.ratelimit"), TestClient(app) as client:
        statuses = [knock(client) for _ in range(4)]
        assert client.get("/health").status_code == 200
    # Counted in the process's memory: still limited, and no request failed with Redis.
    assert statuses == [422, 422, 422, 429]
    warnings = [r for r in caplog.records if r.name == "quill.ratelimit"]
    # One warning for the outage, not one per request: Redis is retried after a pause.
    assert len(warnings) == 1 and "Redis failed" in warnings[0].getMessage()
