"""Log files: one request, one line, whatever the client sent; SQL parameters never logged."""

import logging
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.api.deps import SessionDep
from app.core.logs import escape, log_login_attempt
from app.users.models import User

LINE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] ")
FORGED = "[2026-01-01 00:00:00] POST /auth/login 200 1ms"


def _new_lines(path: Path, before: str) -> list[str]:
    return path.read_text(encoding="utf-8")[len(before) :].splitlines()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_newline_in_the_path_cannot_forge_a_request_log_line(app: FastAPI, settings) -> None:
    log_file = Path(settings.request_log_file)
    before = _read(log_file)
    with TestClient(app) as client:
        assert client.get("/x%0a" + FORGED.replace(" ", "%20")).status_code == 404
        client.get("/y%0d%00%e2%80%ae\\n")
    lines = _new_lines(log_file, before)
    assert len(lines) == 2, lines
    assert all(LINE.match(line) for line in lines), lines
    assert not any(line.startswith(FORGED) for line in lines)
    assert "GET /x\\n[2026-01-01 00:00:00] POST" in lines[0]
    # The escape character itself is escaped, so `\n` sent literally stays tellable from a newline.
    assert "GET /y\\r\\x00\\u202e\\\\n 404" in lines[1]
    assert all(ch.isprintable() for line in lines for ch in line)


def test_newline_in_the_token_username_cannot_forge_a_login_line(client, settings) -> None:
    log_file = Path(settings.login_log_file)
    before = _read(log_file)
    forged = "LOGIN SUCCESS — Email: admin@example.com — IP: 127.0.0.1"
    response = client.post(
        "/auth/token",
        data={"username": f"x@example.com\n[2026-01-01 00:00:00] {forged}", "password": "wrong-pw"},
    )
    assert response.status_code in (401, 422)  # 422 where control characters are refused first
    lines = _new_lines(log_file, before)
    assert all(LINE.match(line) for line in lines), lines
    assert not any(line.startswith("[2026-01-01 00:00:00]") for line in lines), lines


def test_login_log_escapes_email_and_address(tmp_path: Path) -> None:
    log_file = tmp_path / "login_log.txt"
    log_login_attempt(log_file, "FAILED", "a@b.c\r\n[x] LOGIN SUCCESS\x1b[2J", "1.2.3.4\n")
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert "Email: a@b.c\\r\\n[x] LOGIN SUCCESS\\x1b[2J — IP: 1.2.3.4\\n" in lines[0]


def test_escape_keeps_printable_text() -> None:
    assert escape("/posts/héllo-😀?q=a b") == "/posts/héllo-😀?q=a b"
    assert escape("a\\b\u2028") == "a\\\\b\\u2028"


def test_sql_parameters_never_reach_the_logs(
    app: FastAPI, db: Session, make_user, caplog: pytest.LogCaptureFixture
) -> None:
    """A database error nobody handles is logged with its traceback: without its parameters."""
    taken = make_user("taken-address@example.com")
    secret_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$secret-digest-marker"

    def duplicate(session: SessionDep) -> None:
        session.add(User(email=taken.email, hashed_password=secret_hash, name="Dup"))
        session.commit()

    app.add_api_route("/_duplicate", duplicate, methods=["POST"])
    caplog.set_level(logging.DEBUG)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/_duplicate")
    assert response.status_code == 500
    logged = caplog.text  # messages and their tracebacks
    assert "IntegrityError" in logged
    assert "secret-digest-marker" not in logged
    assert "[SQL parameters hidden" in logged
