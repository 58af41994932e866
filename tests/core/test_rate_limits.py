"""Rate limits per client address, counted in this process's memory (app.core.ratelimit): every
request to /auth and every upload counts, the 429 carries RATE_LIMITED and a sane Retry-After,
X-Forwarded-For counts only from a trusted proxy, RATE_LIMIT_ENABLED=false turns them off, and
the schema documents 429 RATE_LIMITED on exactly the routes that are limited."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.database import Database
from app.core.ratelimit import RateLimitMiddleware, client_key
from app.main import create_app
from tests.api.recipes_request import documented_codes
from tests.utils.accounts import PASSWORD
from tests.utils.files import image_bytes

BROKEN_JSON = b'{"email": '


@contextmanager
def limited_client(
    settings: Settings,
    database: Database,
    *,
    peer: str = "203.0.113.7",
    **changes: Any,
) -> Iterator[TestClient]:
    """A client of an app of its own (so of its own counts) with the limits on, as `peer`."""
    update = {"rate_limit_enabled": True, "rate_limit_auth": "3/minute", **changes}
    app = create_app(settings.model_copy(update=update), database=database)
    with TestClient(app, raise_server_exceptions=False, client=(peer, 40000)) as client:
        yield client


def knock(client: TestClient, times: int, **headers: str) -> list[int]:
    """POST /auth/login with a body that does not parse: 422 unless the limit answers first."""
    return [
        client.post("/auth/login", content=BROKEN_JSON, headers=headers).status_code
        for _ in range(times)
    ]


def test_the_request_past_the_limit_is_429_rate_limited_with_retry_after(
    settings: Settings, database: Database
) -> None:
    with limited_client(settings, database) as client:
        assert knock(client, 3) == [422, 422, 422]  # counted although the body never parsed
        headers = {"X-Request-ID": "rl-1", "Origin": "http://localhost:3000"}
        response = client.post("/auth/register", json={}, headers=headers)
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "RATE_LIMITED"
    assert body["success"] is False and body["request_id"] == "rl-1"
    assert response.headers["X-Request-ID"] == "rl-1"
    # A page on an allowed origin can read the answer and its Retry-After.
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "retry-after" in response.headers["Access-Control-Expose-Headers"].lower()
    # The moving window frees its first slot a minute after the first request.
    assert 55 <= int(response.headers["Retry-After"]) <= 60


def test_successes_count_too_and_other_routes_are_not_limited(
    client: TestClient, app: FastAPI, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = app.state.settings
    monkeypatch.setattr(settings, "rate_limit_enabled", True)
    monkeypatch.setattr(settings, "rate_limit_auth", "2/minute")
    user = make_user("counted@example.com")
    body = {"email": user.email, "password": PASSWORD}
    statuses = [client.post("/auth/login", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/posts").status_code == 200
    assert client.get("/health").status_code == 200


def test_retry_after_is_when_the_window_frees_a_slot(
    settings: Settings, database: Database
) -> None:
    with limited_client(settings, database, rate_limit_auth="2/second") as client:
        assert knock(client, 2) == [422, 422]
        over = client.post("/auth/login", content=BROKEN_JSON)
        assert over.status_code == 429
        assert over.headers["Retry-After"] == "1"
        time.sleep(1.1)
        assert knock(client, 1) == [422]


def test_uploads_have_their_own_limit(settings: Settings, database: Database) -> None:
    with limited_client(settings, database, rate_limit_uploads="2/minute") as client:
        assert knock(client, 3) == [422, 422, 422]
        png = {"file": ("a.png", image_bytes("PNG", (2, 2)), "image/png")}
        routes = [
            ("POST", "/uploads/image"),
            ("POST", "/users/me/avatar"),
            ("PATCH", "/posts/1/cover"),
        ]
        statuses = [client.request(m, p, files=png).status_code for m, p in routes]
        # Counted before the caller is even looked at: the third upload of the minute is over.
        assert statuses == [401, 401, 429]
        assert client.post("/uploads", files=png).status_code == 429
        assert client.get("/uploads").status_code == 401  # listing is no upload
        assert knock(client, 1) == [429]  # /auth's own limit was reached earlier


def test_disabled_means_no_limit(settings: Settings, database: Database) -> None:
    with limited_client(settings, database, rate_limit_enabled=False) as client:
        assert set(knock(client, 12)) == {422}


def test_each_address_has_its_own_count(settings: Settings, database: Database) -> None:
    with limited_client(settings, database, peer="198.51.100.1") as first:
        assert knock(first, 4) == [422, 422, 422, 429]
        app = first.app
    with TestClient(app, raise_server_exceptions=False, client=("198.51.100.2", 1)) as second:
        assert knock(second, 1) == [422]


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    settings: Settings, database: Database
) -> None:
    with limited_client(settings, database) as client:
        statuses = [
            client.post(
                "/auth/login", content=BROKEN_JSON, headers={"X-Forwarded-For": f"10.0.0.{n}"}
            ).status_code
            for n in range(4)
        ]
    assert statuses == [422, 422, 422, 429]


def test_x_forwarded_for_from_a_trusted_proxy_is_the_client(
    settings: Settings, database: Database
) -> None:
    with limited_client(
        settings, database, peer="192.0.2.10", forwarded_allow_ips=["192.0.2.10"]
    ) as client:
        assert knock(client, 4, **{"X-Forwarded-For": "10.0.0.1"}) == [422, 422, 422, 429]
        assert knock(client, 1, **{"X-Forwarded-For": "10.0.0.2"}) == [422]


def test_client_key() -> None:
    def key(host: str | None) -> str:
        return client_key({"client": (host, 1) if host else None})

    assert key("192.0.2.1") == "192.0.2.1"
    # One subscriber gets a whole /64: rotating addresses inside it does not reset the count.
    assert key("2001:db8:1:2:aaaa::1") == key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")
    assert key("::ffff:192.0.2.1") == "192.0.2.1"
    assert key(None) == "unknown"


def _middleware(app: FastAPI) -> RateLimitMiddleware:
    layer: Any = app.middleware_stack or app.build_middleware_stack()
    while not isinstance(layer, RateLimitMiddleware):
        layer = layer.app
    return layer


def test_429_rate_limited_is_documented_on_exactly_the_limited_routes(app: FastAPI) -> None:
    documented = {(m, p) for m, p, s, c in documented_codes(app) if c == "RATE_LIMITED"}
    middleware = _middleware(app)
    limited = set()
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            if middleware.limit_for(method.upper(), path) is not None:
                limited.add((method.upper(), path))
    assert limited == documented
    assert {p for _, p in limited} >= {"/auth/login", "/auth/logout", "/uploads", "/uploads/image"}
    assert len(limited) == 13  # the nine /auth routes and the four upload routes


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate_limit_auth", "ten a minute"),
        ("rate_limit_uploads", "0/minute"),
        ("rate_limit_uploads", ""),
        ("redis_url", "http://127.0.0.1:6379"),
        ("rate_limit_key_prefix", "has space"),
    ],
)
def test_bad_rate_limit_settings_are_refused(name: str, value: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=name):
        Settings.model_validate({"environment": "test", name: value})
