"""ALLOWED_HOSTS, redirects that never name a host taken from the request, and X-Forwarded-For
believed only from FORWARDED_ALLOW_IPS."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.auth.models import LoginAttempt
from app.core.config import Settings
from app.main import create_app
from tests.utils.servers import REPO_ROOT, free_port, serve
from tests.utils.settings import run_environment


def _app(db: Session, settings: Settings, **changes: object) -> FastAPI:
    application = create_app(settings.model_copy(update=changes))

    def _test_db() -> Iterator[Session]:
        yield db

    application.dependency_overrides[get_db] = _test_db
    return application


def _assert_envelope(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["success"], body["code"]) == (False, code)
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_unlisted_host_is_400_in_the_envelope(db: Session, settings: Settings) -> None:
    app = _app(db, settings, allowed_hosts=["api.example.com", "*.blog.example"])
    with TestClient(app, raise_server_exceptions=False) as client:
        for host in ("evil.example", "api.example.com.evil.example", "blog.example.evil"):
            _assert_envelope(client.get("/health", headers={"Host": host}), 400, "INVALID_HOST")
        for host in ("api.example.com", "API.example.com:8443", "www.blog.example"):
            assert client.get("/health", headers={"Host": host}).status_code == 200, host
        # A browser on an allowed origin can read the refusal.
        refused = client.get(
            "/posts", headers={"Host": "evil.example", "Origin": "http://localhost:3000"}
        )
        _assert_envelope(refused, 400, "INVALID_HOST")
        assert refused.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_trailing_slash_redirect_is_relative(client: TestClient) -> None:
    response = client.get(
        "/posts/?page=2", headers={"Host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code in (301, 307, 308)
    assert response.headers["location"] == "/posts?page=2"
    assert client.get("/posts/", follow_redirects=True).status_code == 200


def _login_log_lines(settings: Settings, before: str) -> list[str]:
    return Path(settings.login_log_file).read_text(encoding="utf-8")[len(before) :].splitlines()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _failed_login(client: TestClient, email: str, forwarded: str) -> httpx.Response:
    return client.post(
        "/auth/login",
        json={"email": email, "password": "wrong-password"},
        headers={"X-Forwarded-For": forwarded},
    )


def test_forwarded_for_believed_only_from_trusted_peers(db: Session, settings: Settings) -> None:
    before = _read(Path(settings.login_log_file))
    proxied = _app(db, settings, forwarded_allow_ips=["10.0.0.0/8"])
    with TestClient(proxied, client=("10.1.2.3", 4000)) as via_proxy:
        assert _failed_login(via_proxy, "proxied@example.com", "203.0.113.9").status_code == 401
    with TestClient(proxied, client=("192.0.2.50", 4000)) as direct:
        assert _failed_login(direct, "direct@example.com", "203.0.113.9").status_code == 401
    lines = _login_log_lines(settings, before)
    assert any("proxied@example.com — IP: 203.0.113.9" in line for line in lines), lines
    assert any("direct@example.com — IP: 192.0.2.50" in line for line in lines), lines
    ips = dict(db.execute(select(LoginAttempt.email, LoginAttempt.ip)).all())
    assert ips["proxied@example.com"] == "203.0.113.9"
    assert ips["direct@example.com"] == "192.0.2.50"


def test_garbage_forwarded_for_from_a_trusted_peer_is_dropped(
    db: Session, settings: Settings
) -> None:
    before = _read(Path(settings.login_log_file))
    app = _app(db, settings, forwarded_allow_ips=["10.1.2.3"])
    with TestClient(app, raise_server_exceptions=False, client=("10.1.2.3", 4000)) as client:
        for forwarded in ("x" * 60, "fe80::1%" + "e" * 60, "1.2.3.4\nLOGIN SUCCESS"):
            assert _failed_login(client, "garbage@example.com", forwarded).status_code == 401
    lines = _login_log_lines(settings, before)
    assert len(lines) == 3 and all("IP: unknown" in line for line in lines), lines
    ips = db.scalars(select(LoginAttempt.ip).where(LoginAttempt.email == "garbage@example.com"))
    assert list(ips) == [None, None, None]


def test_served_app_ignores_forwarded_for_by_default(tmp_path: Path) -> None:
    """`python -m app serve` itself: uvicorn's own default would believe 127.0.0.1's header."""
    port = free_port()
    env = {
        **os.environ,
        **run_environment(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "LOGIN_LOG_FILE": str(tmp_path / "login_log.txt"),
        "REQUEST_LOG_FILE": str(tmp_path / "requests.log"),
        "PORT": str(port),
    }
    env.pop("FORWARDED_ALLOW_IPS", None)
    with serve(env, cwd=REPO_ROOT, log=tmp_path / "server.log") as base:
        response = httpx.post(
            f"{base}/auth/login",
            json={"email": "served@example.com", "password": "wrong-password"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert response.status_code == 401
        log_file = tmp_path / "login_log.txt"
        deadline = time.monotonic() + 30
        # A background task writes the line; the file can exist a moment before the line does.
        while not _read(log_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        line = log_file.read_text(encoding="utf-8")
        assert "IP: 127.0.0.1" in line and "203.0.113.9" not in line
