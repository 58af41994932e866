"""App wiring: envelope, headers, CORS, request ids, request log, body limit, /ready."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.core.config import Settings
from app.core.errors import ConflictError
from app.core.middleware import _vary_origin
from app.core.schemas import StrictBody
from app.main import create_app


class Echo(StrictBody):
    text: str


def _add_probe_routes(app: FastAPI, settings: Settings) -> None:
    """Routes that exist only in tests, included the way create_app() includes real ones."""
    router = APIRouter()

    @router.post("/_echo")
    def echo(body: Echo) -> Echo:
        return body

    @router.get("/_boom")
    def boom() -> None:
        raise RuntimeError("secret stack detail SELECT * FROM users")

    @router.get("/_conflict")
    def conflict() -> None:
        raise ConflictError("That is taken")

    app.include_router(router, max_body_size=settings.max_json_body_bytes)


@pytest.fixture
def probe_client(app: FastAPI, settings: Settings) -> Iterator[TestClient]:
    _add_probe_routes(app, settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_root_health_ready(client: TestClient) -> None:
    assert client.get("/").json() == {"message": "API is running", "docs": "/docs"}
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ok", "database": "ok"}


def test_health_is_served_pre_serialised_as_documented(client: TestClient) -> None:
    response = client.get("/health")
    assert response.content == b'{"status":"ok"}'
    assert response.headers["content-type"] == "application/json"
    schema = client.get("/openapi.json").json()["paths"]["/health"]["get"]["responses"]["200"]
    assert schema["content"]["application/json"]["schema"]["$ref"].endswith("/Health")


def test_unknown_route_is_enveloped_404(client: TestClient) -> None:
    body = assert_envelope(client.get("/nope/here"), 404, "NOT_FOUND")
    assert body["message"] == "Route /nope/here not found"
    assert "errors" not in body


def test_wrong_method_is_enveloped_405(client: TestClient) -> None:
    assert_envelope(client.delete("/health"), 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_is_422(probe_client: TestClient) -> None:
    response = probe_client.post(
        "/_echo", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    body = assert_envelope(response, 422, "VALIDATION_FAILED")
    assert body["errors"][0]["type"] == "json_invalid"


def test_validation_errors_name_the_field(probe_client: TestClient) -> None:
    body = assert_envelope(probe_client.post("/_echo", json={}), 422, "VALIDATION_FAILED")
    assert body["errors"] == [
        {
            "loc": ["body", "text"],
            "field": "body → text",
            "message": "Field required",
            "type": "missing",
        }
    ]


def test_unknown_field_is_rejected(probe_client: TestClient) -> None:
    body = assert_envelope(
        probe_client.post("/_echo", json={"text": "a", "is_admin": True}), 422, "VALIDATION_FAILED"
    )
    assert body["errors"][0]["field"] == "body → is_admin"
    assert body["errors"][0]["type"] == "extra_forbidden"


def test_domain_error_maps_through_the_table(probe_client: TestClient) -> None:
    body = assert_envelope(probe_client.get("/_conflict"), 409, "CONFLICT")
    assert body["message"] == "That is taken"


def test_unhandled_error_is_500_without_details(
    probe_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = probe_client.get("/_boom", headers={"X-Request-ID": "trace-500"})
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert body["request_id"] == "trace-500"
    assert "secret" not in response.text and "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    logged = [r for r in caplog.records if "trace-500" in r.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_response_headers(client: TestClient) -> None:
    response = client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert re.fullmatch(r"\d+\.\d{2}ms", response.headers["x-process-time"])
    assert re.fullmatch(r"app;dur=\d+\.\d{2}", response.headers["server-timing"])
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_request_id_echo_and_rejection(client: TestClient) -> None:
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    for bad in ["has space", "x" * 200, "semi;colon"]:
        echoed = client.get("/health", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert echoed != bad
        assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_cors_preflight_allowed_origin(client: TestClient) -> None:
    response = client.options(
        "/health",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert response.headers["access-control-allow-credentials"] == "true"


def test_cors_preflight_denied_origin(client: TestClient) -> None:
    response = client.options(
        "/health",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers
    simple = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_vary_origin_with_and_without_origin(client: TestClient) -> None:
    """CORS runs only for requests with an Origin; the others still get the `Vary: Origin` it
    would add, so a cache never hands a cross-origin page an answer made without CORS headers."""
    assert client.get("/health").headers["vary"] == "Origin"
    allowed = client.get("/health", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert allowed.headers["vary"] == "Origin"
    merged = _vary_origin([(b"content-type", b"text/plain"), (b"vary", b"Accept-Encoding")])
    assert merged == [(b"content-type", b"text/plain"), (b"vary", b"Accept-Encoding, Origin")]


def test_request_log_line_written(app: FastAPI, settings) -> None:
    log_file = Path(settings.request_log_file)
    before = log_file.read_text() if log_file.exists() else ""
    with TestClient(app) as test_client:
        test_client.get("/health")
        test_client.get("/missing-route")
    written = log_file.read_text()[len(before) :]
    assert re.search(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] GET /health 200 \d+ms$", written, re.M)
    assert re.search(r"^\[[^\]]+\] GET /missing-route 404 \d+ms$", written, re.M)


def test_ready_is_503_when_database_unreachable(app: FastAPI) -> None:
    dead = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )

    def _dead_db() -> Iterator[Session]:
        with Session(dead) as session:
            yield session

    app.dependency_overrides[get_db] = _dead_db
    with TestClient(app) as test_client:
        response = test_client.get("/ready")
        assert test_client.get("/health").status_code == 200
    body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
    assert "127.0.0.1" not in body["message"]


def test_oversized_json_is_413_without_reading_it_whole(db: Session, settings: Settings) -> None:
    """Feed an endless body at the ASGI level and count what the app pulled in."""
    app = create_app(settings)
    _add_probe_routes(app, settings)
    chunk = b"x" * 65536
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/_echo",
        "raw_path": b"/_echo",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert b'"code":"PAYLOAD_TOO_LARGE"' in sent[1]["body"].replace(b" ", b"")
    assert pulled <= 1024 * 1024 + len(chunk)


def test_declared_oversized_json_is_413(probe_client: TestClient) -> None:
    response = probe_client.post(
        "/_echo",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"content-type": "application/json"},
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_declared_oversized_body_on_a_real_route_is_413(client: TestClient) -> None:
    response = client.post(
        "/health", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "text/plain"}
    )
    assert response.status_code in (405, 413)
    response = client.request(
        "GET", "/ready", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "text/plain"}
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_openapi_documents_the_envelope(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "ErrorResponse" in spec["components"]["schemas"]
    ready = spec["paths"]["/ready"]["get"]["responses"]
    assert ready["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
