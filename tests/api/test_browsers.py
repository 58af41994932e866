"""What a browser page on an allowed origin needs: CORS headers on every answer, errors included,
the request headers it sends allowed, and HEAD wherever GET works."""

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.core.config import Settings
from app.main import create_app
from tests.utils.files import image_bytes

ORIGIN = "http://localhost:3000"


def _assert_readable(response, status: int, code: str) -> None:
    """The page can read this answer: the origin is allowed, and the body is the envelope."""
    assert response.status_code == status, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
    body = response.json()
    assert body["code"] == code and body["request_id"] == response.headers["x-request-id"]


@pytest.fixture
def boom_client(app: FastAPI) -> Iterator[TestClient]:
    router = APIRouter()

    @router.get("/_boom")
    def boom() -> None:
        raise RuntimeError("nothing to see")

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_500_carries_cors_headers(boom_client: TestClient) -> None:
    response = boom_client.get("/_boom", headers={"Origin": ORIGIN})
    _assert_readable(response, 500, "INTERNAL_ERROR")
    assert response.headers["x-content-type-options"] == "nosniff"
    # A foreign origin still reads nothing.
    foreign = boom_client.get("/_boom", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 500 and "access-control-allow-origin" not in foreign.headers


def test_body_limit_413_carries_cors_headers(client: TestClient) -> None:
    response = client.request(
        "GET",
        "/ready",
        content=b"x" * (1024 * 1024 + 1),
        headers={"content-type": "text/plain", "Origin": ORIGIN},
    )
    _assert_readable(response, 413, "PAYLOAD_TOO_LARGE")
    assert int(response.headers["content-length"]) == len(response.content)


def test_range_416_carries_cors_headers(user_client) -> None:
    client, _user, headers = user_client
    url = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("a.png", image_bytes("PNG"), "image/png")},
    ).json()["url"]
    response = client.get(url, headers={"Range": "bytes=999999-", "Origin": ORIGIN})
    _assert_readable(response, 416, "RANGE_NOT_SATISFIABLE")


def test_preflight_allows_the_configured_headers(client: TestClient) -> None:
    preflight = client.options(
        "/posts",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, cache-control",
        },
    )
    assert preflight.status_code == 200
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "cache-control" in allowed and "authorization" in allowed
    tracing = client.options(
        "/posts",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "traceparent",
        },
    )
    assert tracing.status_code == 400


def test_allowed_headers_are_a_setting(db: Session, settings: Settings, database) -> None:
    assert Settings(environment="test", cors_allow_headers="A, B").cors_allow_headers == ["A", "B"]
    assert Settings(
        environment="test", cors_allow_headers='["traceparent"]'
    ).cors_allow_headers == ["traceparent"]
    app = create_app(
        settings.model_copy(update={"cors_allow_headers": ["Content-Type", "traceparent"]}),
        database=database,
    )
    app.dependency_overrides[get_db] = lambda: db
    with TestClient(app) as client:
        preflight = client.options(
            "/posts",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "traceparent",
            },
        )
    assert preflight.status_code == 200


@pytest.mark.parametrize("path", ["/", "/health", "/ready", "/posts", "/nowhere"])
def test_head_works_wherever_get_does(client: TestClient, path: str) -> None:
    got = client.get(path)
    head = client.head(path)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["x-request-id"] != got.headers["x-request-id"]


def test_head_on_a_post_only_route_is_405(client: TestClient) -> None:
    response = client.head("/auth/login")
    assert response.status_code == 405 and response.content == b""


def test_head_is_logged_as_head(app: FastAPI, settings: Settings) -> None:
    with TestClient(app) as client:
        client.head("/health")
    lines = settings.request_log_file.read_text().splitlines()
    assert any(" HEAD /health 200 " in line for line in lines)
