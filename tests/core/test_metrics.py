"""GET /metrics: what a scrape shows after real requests, logins, uploads and mails; off by
default; the optional bearer token; and server processes adding up (real `serve` processes)."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.core.config import Settings
from app.core.database import THREADPOOL_SIZE, Database
from app.core.mail import Mailer
from app.core.metrics import MULTIPROC_ENV, UNMATCHED, forget_dead_processes
from app.core.middleware import RequestContextMiddleware
from app.main import create_app
from app.uploads.models import Upload, UploadKind
from app.uploads.storage import LocalStorage
from app.users.models import User
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.files import HTML, image_bytes
from tests.utils.mail import mails_to
from tests.utils.metrics import Samples, delta, parse, value
from tests.utils.servers import REPO_ROOT, free_port, serve
from tests.utils.settings import run_environment

REQUESTS = "quill_http_requests_total"
LATENCY = "quill_http_request_duration_seconds"
TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def build(
    db: Session, settings: Settings, database: Database, storage: LocalStorage
) -> Callable[..., FastAPI]:
    """An app with these settings changed, on the test's rolled-back session."""

    def _build(**changes: object) -> FastAPI:
        app = create_app(settings.model_copy(update=changes), database=database, storage=storage)

        def _test_db() -> Iterator[Session]:
            yield db

        app.dependency_overrides[get_db] = _test_db
        return app

    return _build


@pytest.fixture
def metered(build: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(build(metrics_enabled=True), raise_server_exceptions=False) as client:
        yield client


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def test_requests_counted_by_route_template_and_status(metered: TestClient) -> None:
    before = scrape(metered)
    assert metered.get("/health").status_code == 200
    assert metered.get("/posts/987654").status_code == 404
    assert metered.get("/posts/987655").status_code == 404
    assert metered.get("/no/such/route/987656").status_code == 404
    assert metered.head("/health").status_code == 200
    assert metered.delete("/health").status_code == 405
    after = scrape(metered)

    def requests(method: str, route: str, status: str) -> float:
        return delta(before, after, REQUESTS, method=method, route=route, status=status)

    assert requests("GET", "/health", "200") == 1
    assert requests("GET", "/posts/{post_id}", "404") == 2
    assert requests("GET", UNMATCHED, "404") == 1
    assert requests("HEAD", "/health", "200") == 1
    assert requests("DELETE", "/health", "405") == 1
    assert requests("GET", "/metrics", "200") == 1  # the first scrape, counted once it ended
    # Raw paths never become labels: clients cannot add series.
    labels = {v for (_, pairs) in after for _, v in pairs}
    assert not any("98765" in label for label in labels)

    posts = {"method": "GET", "route": "/posts/{post_id}"}
    assert delta(before, after, f"{LATENCY}_count", **posts) == 2
    assert delta(before, after, f"{LATENCY}_bucket", le="+Inf", **posts) == 2
    assert delta(before, after, f"{LATENCY}_sum", **posts) > 0


def test_logins_counted_by_outcome(
    build: Callable[..., FastAPI], make_user: Callable[..., User]
) -> None:
    user = make_user("metered@example.com")
    wrong = {"email": user.email, "password": "not-the-password-1"}
    app = build(metrics_enabled=True, login_max_failures=2)
    with TestClient(app, raise_server_exceptions=False) as client:
        before = scrape(client)
        login(client, user.email)
        assert client.post("/auth/login", json=wrong).status_code == 401
        assert client.post("/auth/login", json=wrong).status_code == 401
        assert client.post("/auth/login", json=wrong).status_code == 429
        after = scrape(client)
    for outcome, count in (("success", 1), ("failure", 2), ("locked", 1)):
        assert delta(before, after, "quill_logins_total", outcome=outcome) == count, outcome


def test_stored_bytes_counted_by_kind(
    metered: TestClient, make_user: Callable[..., User], db: Session
) -> None:
    user = make_user()
    headers = bearer(login(metered, user.email)["access_token"])
    before = scrape(metered)
    image = {"file": ("box.png", image_bytes("PNG"), "image/png")}
    upload = metered.post("/uploads/image", headers=headers, files=image)
    assert upload.status_code == 201, upload.text
    avatar = metered.post("/users/me/avatar", headers=headers, files=image)
    assert avatar.status_code == 200, avatar.text
    refused = {"file": ("page.html", HTML, "text/html")}
    assert metered.post("/uploads/image", headers=headers, files=refused).status_code == 415
    after = scrape(metered)

    avatar_size = db.scalar(
        select(Upload.size).where(Upload.owner_id == user.id, Upload.kind == UploadKind.AVATAR)
    )
    stored = "quill_upload_stored_bytes_total"
    assert delta(before, after, stored, kind="upload") == upload.json()["size"]
    assert delta(before, after, stored, kind="avatar") == avatar_size
    assert delta(before, after, "quill_upload_stored_files_total", kind="upload") == 1
    assert delta(before, after, "quill_upload_stored_files_total", kind="avatar") == 1


def test_mail_sent_and_failed_counted(metered: TestClient, settings: Settings) -> None:
    before = scrape(metered)
    email = "welcome-metered@example.com"
    body = {"email": email, "password": PASSWORD, "name": "New"}
    assert metered.post("/auth/register", json=body).status_code == 201
    # Nothing listens on that port: the SMTP backend fails for real, and Mailer logs it.
    nowhere = {"mail_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": free_port()}
    Mailer(settings.model_copy(update=nowhere)).send(email, "Hello", "Nobody gets this")
    after = scrape(metered)
    assert len(mails_to(settings, email)) == 1
    assert delta(before, after, "quill_mails_total", result="sent", backend="file") == 1
    assert delta(before, after, "quill_mails_total", result="failed", backend="smtp") == 1


def test_pool_gauges_follow_connections(metered: TestClient, engine: Engine) -> None:
    before = scrape(metered)
    with engine.connect():
        during = scrape(metered)
    after = scrape(metered)
    assert delta(before, during, "quill_db_pool_checked_out") == 1
    assert delta(before, after, "quill_db_pool_checked_out") == 0
    assert value(after, "quill_db_pool_size") >= engine.pool.size()  # type: ignore[attr-defined]


def test_off_by_default_metrics_is_an_unknown_route(app: FastAPI, client: TestClient) -> None:
    assert Settings.model_fields["metrics_enabled"].default is False
    response = client.get("/metrics")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "NOT_FOUND" and body["message"] == "Route /metrics not found"
    # No observer: requests pay nothing for metrics.
    (context,) = [m for m in app.user_middleware if m.cls is RequestContextMiddleware]
    assert context.kwargs["observe"] is None


def test_metrics_off_never_imports_the_library(tmp_path: Path) -> None:
    """prometheus_client fixes its mode at import, so nothing may import it before `serve` has
    set PROMETHEUS_MULTIPROC_DIR; with metrics off, nothing imports it at all."""
    code = (
        "import sys, app.cli, app.main\n"
        "from app.core.config import Settings\n"
        "app.main.create_app(Settings(environment='test', database_url='sqlite://'))\n"
        "assert 'prometheus_client' not in sys.modules, 'imported'\n"
    )
    command = [sys.executable, "-c", code]
    subprocess.run(command, cwd=tmp_path, check=True, timeout=120)  # noqa: S603 - our own code


def test_token_guards_metrics_when_set(build: Callable[..., FastAPI]) -> None:
    app = build(metrics_enabled=True, metrics_token=SecretStr(TOKEN))
    with TestClient(app, raise_server_exceptions=False) as client:
        for headers in ({}, bearer("wrong-token"), {"Authorization": f"Basic {TOKEN}"}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["code"] == "NOT_AUTHENTICATED"
            assert refused.headers["www-authenticate"] == "Bearer"
        allowed = client.get("/metrics", headers=bearer(TOKEN))
        assert allowed.status_code == 200
        refused_route = {"method": "GET", "route": "/metrics", "status": "401"}
        assert value(parse(allowed.text), REQUESTS, **refused_route) >= 3
    assert "/metrics" not in app.openapi()["paths"]


# --- several processes, over real HTTP -----------------------------------------------------------


def _server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        **run_environment(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "LOGIN_LOG_FILE": str(tmp_path / "login_log.txt"),
        "REQUEST_LOG_FILE": str(tmp_path / "requests.log"),
        "METRICS_ENABLED": "true",
        **extra,
    }
    if MULTIPROC_ENV not in extra:
        env.pop(MULTIPROC_ENV, None)
    return env


def _scrape(base: str) -> Samples:
    response = httpx.get(f"{base}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return parse(response.text)


def _health(base: str) -> float:
    return value(_scrape(base), REQUESTS, method="GET", route="/health", status="200")


def test_two_workers_add_up_and_their_directory_goes_with_the_server(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = _server_env(tmp_path, PORT=str(free_port()), TMPDIR=str(temp))
    log = tmp_path / "server.log"
    with serve(env, cwd=REPO_ROOT, log=log, args=["--workers", "2"]) as base:
        (directory,) = temp.glob("quill-metrics-*")
        before = _health(base)
        sent = 0
        # A new connection each time, until both workers have answered some.
        while sent < 40 or len(list(directory.glob("counter_*.db"))) < 2:
            assert sent < 2000, "one worker answered everything"
            assert httpx.get(f"{base}/health", timeout=30).status_code == 200
            sent += 1
        # Whichever worker answers the scrape, it reports both workers' counts.
        assert {_health(base) - before for _ in range(6)} == {sent}
        samples = _scrape(base)
        assert value(samples, "quill_db_pool_size") == 2 * THREADPOOL_SIZE
    assert not directory.exists(), "the server's metrics directory outlived it"


def test_one_process_server_removes_its_directory_when_stopped(tmp_path: Path) -> None:
    """One worker: uvicorn ends the process by raising SIGTERM again once it has shut down."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = _server_env(tmp_path, PORT=str(free_port()), TMPDIR=str(temp))
    with serve(env, cwd=REPO_ROOT, log=tmp_path / "server.log") as base:
        (directory,) = temp.glob("quill-metrics-*")
        assert _health(base) >= 1
        assert list(directory.glob("counter_*.db"))
    assert not directory.exists(), "the server's metrics directory outlived it"


def test_two_servers_sharing_a_directory_add_up(tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    env = _server_env(tmp_path, **{MULTIPROC_ENV: str(shared)})
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    with (
        serve({**env, "PORT": str(free_port())}, cwd=REPO_ROOT, log=log_a) as a,
        serve({**env, "PORT": str(free_port())}, cwd=REPO_ROOT, log=log_b) as b,
    ):
        before = _health(a)
        for base, times in ((a, 3), (b, 5)):
            for _ in range(times):
                assert httpx.get(f"{base}/health", timeout=30).status_code == 200
        assert _health(a) - before == 8
        assert _health(b) - before == 8
    # The operator's directory is theirs to empty (several servers may share it on purpose).
    assert shared.is_dir()


def test_a_killed_workers_live_gauges_leave_the_sums(tmp_path: Path) -> None:
    """A worker that died without its shutdown (uvicorn starts another) no longer counts in the
    pool gauges once a process starts counting; its counters stay."""
    code = (
        "import os\n"
        "from app.core.metrics import enable\n"
        "metrics = enable()\n"
        "metrics.pool_size.inc(20)\n"
        "metrics.logins.labels('success').inc()\n"
        "os._exit(0)\n"  # no shutdown, as after SIGKILL
    )
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    command = [sys.executable, "-c", code]
    subprocess.run(command, env=env, check=True, timeout=120)  # noqa: S603 - our own code
    assert list(tmp_path.glob("gauge_livesum_*.db")) and list(tmp_path.glob("counter_*.db"))
    forget_dead_processes(tmp_path)
    assert not list(tmp_path.glob("gauge_livesum_*.db"))
    assert list(tmp_path.glob("counter_*.db"))
