"""Login lockout under concurrency (issue 9, finding 2), against a real server process.

The `client` fixtures share one rolled-back connection, which serialises everything; a race needs
`python -m app serve` on its own scratch database (a SQLite file, or a scratch database on the
TEST_DATABASE_URL server) and real threads sending at once.
"""

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.auth.lockout import CHECK_DEADLINE
from app.auth.models import LoginAttempt
from tests.utils.accounts import PASSWORD
from tests.utils.cluster import scratch_database as scratch_database_on_test_server
from tests.utils.servers import free_port, serve

MAX_FAILURES = 5


@dataclass
class Server:
    base: str
    database_url: str
    login_log: Path


@pytest.fixture(scope="module")
def scratch_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database_on_test_server(tmp_path_factory.mktemp("lockout"), tag="lockout") as url:
        yield url


@pytest.fixture(scope="module")
def server(scratch_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("lockout-server")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": scratch_database,
        "ENVIRONMENT": "test",
        "SECRET_KEY": "lockout-test-secret-key-long-enough-0123456789",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOGIN_MAX_FAILURES": str(MAX_FAILURES),
        "LOGIN_LOCKOUT_MINUTES": "15",
        "LOGIN_LOG_FILE": str(work / "login_log.txt"),
        "REQUEST_LOG_FILE": str(work / "requests.log"),
        "UPLOAD_DIR": str(work / "uploads"),
        "MAIL_BACKEND": "file",
        "MAIL_DIR": str(work / "mail"),
        # Per-address rate limits (where they exist) would answer 429 RATE_LIMITED first.
        "RATE_LIMIT_ENABLED": "false",
    }
    with serve(env, cwd=work, log=work / "server.err") as base:
        yield Server(base, scratch_database, work / "login_log.txt")


def _register(server: Server, email: str) -> None:
    response = httpx.post(
        server.base + "/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Target"},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def _at_once(server: Server, n: int, email: str, password: str) -> list[httpx.Response]:
    """n logins released together by a barrier, each on its own connection and thread."""
    barrier = threading.Barrier(n)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def attempt() -> None:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            barrier.wait()
            response = client.post("/auth/login", json={"email": email, "password": password})
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == n
    return answers


def _checks_made(server: Server, email: str) -> int:
    """Every password check leaves one login_attempts row; a 429 makes none."""
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(LoginAttempt)
                    .where(LoginAttempt.email == email)
                )
            )
    finally:
        engine.dispose()


def _log_lines(server: Server, email: str, outcome: str, expected: int) -> int:
    # The login log is written after the response: give the background tasks a moment.
    deadline = time.monotonic() + 5
    while True:
        lines = server.login_log.read_text().splitlines() if server.login_log.exists() else []
        count = sum(1 for line in lines if f"LOGIN {outcome}" in line and email in line)
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def test_concurrent_wrong_passwords_get_at_most_max_checks(server: Server) -> None:
    email = "flood-target@example.com"
    _register(server, email)
    answers = _at_once(server, 30, email, "wrong-password-123")

    statuses = Counter(response.status_code for response in answers)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= MAX_FAILURES, statuses
    assert statuses[429] >= 30 - MAX_FAILURES, statuses
    for response in answers:
        if response.status_code == 429:
            assert response.json()["code"] == "TOO_MANY_LOGIN_ATTEMPTS"
            assert int(response.headers["retry-after"]) >= 1
    assert _checks_made(server, email) <= MAX_FAILURES
    assert _log_lines(server, email, "FAILED", statuses[401]) == statuses[401]
    assert _log_lines(server, email, "LOCKED", statuses[429]) == statuses[429]

    # Locked: even the right password is not checked now.
    locked = httpx.post(
        server.base + "/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert locked.status_code == 429 and locked.json()["code"] == "TOO_MANY_LOGIN_ATTEMPTS"
    assert _checks_made(server, email) <= MAX_FAILURES


def test_concurrent_unknown_email_is_bounded_too(server: Server) -> None:
    email = "nobody-here@example.com"
    answers = _at_once(server, 12, email, "wrong-password-123")
    statuses = Counter(response.status_code for response in answers)
    assert statuses[401] <= MAX_FAILURES and statuses[401] + statuses[429] == 12, statuses
    assert _checks_made(server, email) <= MAX_FAILURES


def test_concurrent_right_passwords_all_succeed(server: Server) -> None:
    """Checks in progress hold the slots, but a success frees them: more simultaneous logins
    than LOGIN_MAX_FAILURES with the right password all get in (they wait, not 429)."""
    email = "busy-user@example.com"
    _register(server, email)
    answers = _at_once(server, 2 * MAX_FAILURES + 2, email, PASSWORD)
    assert Counter(response.status_code for response in answers) == {200: 2 * MAX_FAILURES + 2}


def test_checks_left_unsettled_by_a_crash_count_as_failures(
    client: TestClient, make_user, db: Session, settings
) -> None:
    """A process that dies mid-check leaves its attempt "in progress"; past CHECK_DEADLINE it is
    a failure, so killing workers cannot buy extra guesses."""
    user = make_user("crashed@example.com")
    long_ago = datetime.now(UTC) - CHECK_DEADLINE - timedelta(seconds=1)
    for _ in range(settings.login_max_failures):
        db.add(LoginAttempt(email=user.email, succeeded=None, created_at=long_ago))
    db.commit()
    response = client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.json()["code"] == "TOO_MANY_LOGIN_ATTEMPTS"
