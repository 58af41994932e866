"""JOBS_BACKEND=redis end to end, each part a real process: `python -m app serve`, one or two
`python -m app worker`, Redis on 127.0.0.1 and an SMTP server (aiosmtpd) counting what arrives.

Exactly once is checked by counting at the SMTP server after a settle period longer than the
relay's grace (outbox.HANDOVER_GRACE) and period, when any duplicate would have arrived.
"""

import re
import time
from pathlib import Path

import httpx

from app.jobs import outbox, worker
from app.users.mails import password_reset_message, welcome_message
from tests.utils.accounts import PASSWORD
from tests.utils.cluster import Cluster, cluster
from tests.utils.servers import free_port
from tests.utils.smtp import CollectingHandler, smtp_sink

RESET_SUBJECT = password_reset_message("x", "y")[0]
WELCOME_SUBJECT = welcome_message("x")[0]
SETTLE_SECONDS = outbox.HANDOVER_GRACE.total_seconds() + 2 * worker.RELAY_SECONDS + 1


def _smtp_env(port: int) -> dict[str, str]:
    return {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}


def _register(base: str, email: str) -> None:
    answer = httpx.post(
        base + "/auth/register", json={"email": email, "password": PASSWORD, "name": "Ada"}
    )
    assert answer.status_code == 201, answer.text


def _forgot_then_kill(group: Cluster, base_node_name: str, email: str, **env: str) -> None:
    node = group.serve(base_node_name, **env)
    _register(node.url, email)
    answer = httpx.post(node.url + "/auth/forgot-password", json={"email": email})
    assert answer.status_code == 202
    group.kill(node)  # SIGKILL at once: whatever was to run after the answer may never run


def test_the_worker_sends_queued_mail_and_writes_the_login_log(tmp_path: Path) -> None:
    with smtp_sink() as (controller, sink), cluster(tmp_path, **_smtp_env(controller.port)) as c:
        worker_log = tmp_path / "worker-login_log.txt"
        c.worker("worker", LOGIN_LOG_FILE=str(worker_log))
        api = c.serve("api")
        _register(api.url, "ada@example.com")
        sink.wait_for(1, subject=WELCOME_SUBJECT)
        login = httpx.post(
            api.url + "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200
        deadline = time.monotonic() + 20
        while "LOGIN SUCCESS" not in (worker_log.read_text() if worker_log.exists() else ""):
            assert time.monotonic() < deadline, "the worker wrote no login line"
            time.sleep(0.1)
        # Written by the worker, from the queue: not by the API process into its own file.
        assert "Email: ada@example.com" in worker_log.read_text()
        assert not (tmp_path / "login_log.txt").exists()
        time.sleep(2)
        assert [m["To"] for m in sink.messages()] == ["ada@example.com"]


def test_a_refusing_mail_server_is_retried_with_back_off(tmp_path: Path) -> None:
    with (
        smtp_sink(refuse=2) as (controller, sink),
        cluster(
            tmp_path,
            JOBS_RETRY_MIN_SECONDS="0.5",
            JOBS_RETRY_MAX_SECONDS="2",
            **_smtp_env(controller.port),
        ) as c,
    ):
        work = c.worker("worker")
        api = c.serve("api")
        started = time.monotonic()
        _register(api.url, "bo@example.com")
        sink.wait_for(1, subject=WELCOME_SUBJECT)
        took = time.monotonic() - started
        assert sink.refused == 2
        # Two waits of at least the minimum back-off (0.5 s, then 1 s) before the third try.
        assert took >= 1.5
        time.sleep(2)
        assert len(sink.messages()) == 1
        assert work.output().count("try 1 failed") == 1
        assert work.output().count("try 2 failed") == 1


def _exactly_one_reset(sink: CollectingHandler, email: str) -> None:
    sink.wait_for(1, subject=RESET_SUBJECT, timeout=30)
    time.sleep(SETTLE_SECONDS)
    resets = sink.messages(RESET_SUBJECT)
    assert [m["To"] for m in resets] == [email]


def test_mail_of_an_api_killed_right_after_answering_is_sent_once(tmp_path: Path) -> None:
    with smtp_sink() as (controller, sink), cluster(tmp_path, **_smtp_env(controller.port)) as c:
        c.worker("worker")
        _forgot_then_kill(c, "api", "cy@example.com")
        _exactly_one_reset(sink, "cy@example.com")


def test_mail_never_handed_over_is_relayed_once_with_two_workers(tmp_path: Path) -> None:
    """The API's Redis is unreachable (a closed port): its hand-over after the answer fails, and
    it is killed anyway. The outbox row committed with the request is all there is; two workers
    race to relay and send it."""
    with smtp_sink() as (controller, sink), cluster(tmp_path, **_smtp_env(controller.port)) as c:
        c.worker("worker-1")
        c.worker("worker-2")
        dead_redis = f"redis://127.0.0.1:{free_port()}/0"
        _forgot_then_kill(c, "api", "di@example.com", REDIS_URL=dead_redis)
        # Nothing can have reached the queue from the API.
        assert "left to the relay" in (tmp_path / "api.log").read_text()
        _exactly_one_reset(sink, "di@example.com")
        logs = "".join(node.output() for node in c.nodes if node.name.startswith("worker"))
        # The welcome and the reset mail, each relayed by one worker only and sent once.
        relayed = re.findall(r"relayed (\d+) mail jobs", logs)
        assert sum(map(int, relayed)) == 2
        assert logs.count("sent to di@example.com ('Reset your Quill password')") == 1
