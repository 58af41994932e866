"""requests.log is written in batches by a background thread, never on the request path."""

import re
import time
from pathlib import Path

from app.core.logs import RequestLog

LINE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] (GET|POST) /\S* \d{3} \d+ms$")


def test_lines_wait_for_the_writer_and_keep_their_order(tmp_path: Path) -> None:
    log = RequestLog(tmp_path / "logs" / "requests.log", flush_seconds=60)
    log.start()
    try:
        for n in range(500):
            log.record("GET", f"/posts/{n}", 200, n % 7)
        # The request path only queued them: nothing is written until the writer's turn.
        assert not log.path.exists() or log.path.read_text() == ""
    finally:
        log.stop()
    lines = log.path.read_text().splitlines()
    assert len(lines) == 500
    assert all(LINE.match(line) for line in lines)
    assert [line.split()[3] for line in lines] == [f"/posts/{n}" for n in range(500)]
    assert lines[3].endswith("GET /posts/3 200 3ms")


def test_running_writer_flushes_on_its_own(tmp_path: Path) -> None:
    log = RequestLog(tmp_path / "requests.log", flush_seconds=0.01)
    log.start()
    try:
        log.record("POST", "/auth/login", 401, 145)
        expected = "POST /auth/login 401 145ms\n"
        deadline = time.monotonic() + 5
        written = ""
        while time.monotonic() < deadline and not written.endswith(expected):
            time.sleep(0.01)
            written = log.path.read_text() if log.path.exists() else ""
        assert written.endswith(expected)
    finally:
        log.stop()


def test_records_outside_start_stop_are_not_kept(tmp_path: Path) -> None:
    log = RequestLog(tmp_path / "requests.log")
    log.record("GET", "/health", 200, 0)  # no writer yet: keeping it would only grow memory
    log.start()
    log.stop()
    log.record("GET", "/health", 200, 0)
    assert not log.path.exists()


def test_a_failing_disk_does_not_stop_the_writer(tmp_path: Path) -> None:
    target = tmp_path / "requests.log"
    target.mkdir()  # opening a directory for append fails with an OSError
    log = RequestLog(target, flush_seconds=0.01)
    log.start()
    try:
        log.record("GET", "/health", 200, 0)
        time.sleep(0.1)
        assert log.running
    finally:
        log.stop()
