"""Two Quill API processes on different ports sharing one database server, Redis and an S3
store (moto's server), with a worker (issue 14, item 5): what one process starts, the other
continues, as behind a load balancer across machines: a session, a lockout, a rate limit, an
uploaded file, a mail. The harness (tests/utils/cluster.py) takes more nodes and settings.

The processes trust X-Forwarded-For from 127.0.0.1, as behind that load balancer: each request
names its client address, so the rate limit (on, at RATE_LIMIT_AUTH) counts only the requests of
the test about it, and the others do not run into it.

Runs on PostgreSQL or MariaDB (TEST_DATABASE_URL's server, or the local PostgreSQL on a SQLite
run); skipped, saying so, when there is no database server.
"""

import itertools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.jobs import outbox, worker
from app.users.mails import password_reset_message
from tests.utils.accounts import PASSWORD
from tests.utils.cluster import Cluster, cluster
from tests.utils.files import image_bytes
from tests.utils.s3 import S3Target
from tests.utils.smtp import CollectingHandler, smtp_sink

MAX_FAILURES = 3
AUTH_PER_MINUTE = 5
RESET_SUBJECT = password_reset_message("x", "y")[0]
SETTLE_SECONDS = outbox.HANDOVER_GRACE.total_seconds() + 2 * worker.RELAY_SECONDS + 1
# A client address per request, unless a test names one (10.0.0.0/8: never the peer's own).
_addresses = (f"10.14.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, s3: S3Target
) -> Iterator[tuple[Cluster, CollectingHandler]]:
    work = tmp_path_factory.mktemp("two-processes")
    prefix = f"two-processes-{uuid.uuid4().hex[:12]}/"
    with (
        smtp_sink() as (controller, sink),
        cluster(
            work,
            server_only=True,
            tag="pair",
            LOGIN_MAX_FAILURES=str(MAX_FAILURES),
            MAIL_BACKEND="smtp",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(controller.port),
            RATE_LIMIT_ENABLED="true",
            RATE_LIMIT_AUTH=f"{AUTH_PER_MINUTE}/minute",
            FORWARDED_ALLOW_IPS="127.0.0.1",
            **s3.environment(prefix),
        ) as group,
    ):
        group.worker("worker")
        group.serve_all({"api-a": {}, "api-b": {}})
        try:
            yield group, sink
        finally:
            client = s3.client()
            listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix)
            for item in listed.get("Contents", []):
                client.delete_object(Bucket=s3.bucket, Key=item["Key"])


def _urls(group: Cluster) -> tuple[str, str]:
    return group.nodes[1].url, group.nodes[2].url


def _post(url: str, *, client: str | None = None, **kw: Any) -> httpx.Response:
    """POST from `client` (a new address when None), as the load balancer forwards it."""
    headers = {"X-Forwarded-For": client or next(_addresses), **kw.pop("headers", {})}
    return httpx.post(url, headers=headers, **kw)


def _register(base: str, email: str) -> None:
    answer = _post(
        base + "/auth/register", json={"email": email, "password": PASSWORD, "name": "Ada"}
    )
    assert answer.status_code == 201, answer.text


def _login(base: str, email: str, password: str = PASSWORD) -> httpx.Response:
    return _post(base + "/auth/login", json={"email": email, "password": password})


def test_log_in_on_one_refresh_on_the_other(pair: tuple[Cluster, CollectingHandler]) -> None:
    a, b = _urls(pair[0])
    _register(a, "roam@example.com")
    tokens = _login(a, "roam@example.com").json()
    refreshed = _post(b + "/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    me = httpx.get(
        a + "/users/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["email"] == "roam@example.com"
    # The used refresh token is spent for both: replaying it on A ends the session everywhere.
    replay = _post(a + "/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401
    again = _post(b + "/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
    assert again.status_code == 401


def test_a_lockout_counts_failures_on_both(pair: tuple[Cluster, CollectingHandler]) -> None:
    a, b = _urls(pair[0])
    _register(a, "lock@example.com")
    for base in (a, b, a)[:MAX_FAILURES]:
        assert _login(base, "lock@example.com", "wrong-password-123").status_code == 401
    # The right password no longer gets a check, on either process.
    for base in (b, a):
        locked = _login(base, "lock@example.com")
        assert locked.status_code == 429, locked.text
        assert int(locked.headers["Retry-After"]) > 0


def test_a_rate_limit_counts_requests_on_both(pair: tuple[Cluster, CollectingHandler]) -> None:
    a, b = _urls(pair[0])
    client = "10.15.0.1"

    def knock(base: str) -> httpx.Response:  # a login without its fields: no database work
        return _post(base + "/auth/login", client=client, json={})

    # Split across the two processes, the client gets AUTH_PER_MINUTE answers in all...
    allowed = [knock(base).status_code for base in (a, b, a, b, a)[:AUTH_PER_MINUTE]]
    assert allowed == [422] * AUTH_PER_MINUTE
    # ...and then 429 from both, each saying how long to wait.
    for base in (b, a):
        over = knock(base)
        assert over.status_code == 429, over.text
        assert over.json()["code"] == "RATE_LIMITED"
        assert 1 <= int(over.headers["Retry-After"]) <= 60
    # Another client address counts apart.
    assert _post(b + "/auth/login", client="10.15.0.2", json={}).status_code == 422


def test_an_avatar_uploaded_to_one_is_served_by_the_other(
    pair: tuple[Cluster, CollectingHandler], s3: S3Target
) -> None:
    group = pair[0]
    a, b = _urls(group)
    _register(a, "face@example.com")
    token = _login(a, "face@example.com").json()["access_token"]
    uploaded = _post(
        a + "/users/me/avatar",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("me.png", image_bytes("PNG"), "image/png")},
    )
    assert uploaded.status_code == 200, uploaded.text
    path = uploaded.json()["avatar_url"]
    name = path.rsplit("/", 1)[1]
    served = httpx.get(b + path)
    assert served.status_code == 200, served.text
    assert served.headers["Content-Type"] == "image/png"
    assert served.content == httpx.get(a + path).content
    assert served.content.startswith(b"\x89PNG")
    # It is in the shared bucket under the shared prefix, not on either process's disk.
    prefix = group.env["S3_PREFIX"]
    keys = [
        item["Key"]
        for item in s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=prefix)["Contents"]
    ]
    assert any(key.endswith(name) for key in keys), keys
    assert not list((group.work / "uploads").rglob(name))


def test_a_reset_mail_is_sent_once_though_its_process_was_killed(
    pair: tuple[Cluster, CollectingHandler],
) -> None:
    group, sink = pair
    a, b = _urls(group)
    _register(a, "lost@example.com")
    answer = _post(b + "/auth/forgot-password", json={"email": "lost@example.com"})
    assert answer.status_code == 202
    group.kill(group.nodes[2])  # B dies at once, its after-answer work undone
    sink.wait_for(1, subject=RESET_SUBJECT, timeout=30)
    time.sleep(SETTLE_SECONDS)
    resets = sink.messages(RESET_SUBJECT)
    assert [m["To"] for m in resets] == ["lost@example.com"]
    # The link works on the process still alive.
    body = resets[0].get_payload(decode=True)
    assert isinstance(body, bytes)
    token = body.decode().split("token=", 1)[1].split()[0]
    done = _post(
        a + "/auth/reset-password", json={"token": token, "new_password": "a-new-password-42"}
    )
    assert done.status_code == 204, done.text
    assert _login(a, "lost@example.com", "a-new-password-42").status_code == 200
