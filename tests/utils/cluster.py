"""Several Quill processes sharing a database and Redis, as on several machines: `serve`
processes on ports of their own and `worker` processes, each its own OS process, started and
killed (SIGKILL too) by the test. For multi-process proofs (jobs, lockout, refresh, rate limits,
S3 storage...): add settings through `Cluster.serve(**env)` / `Cluster.worker(**env)`.

The database is a scratch one made here (`scratch_database`): on the TEST_DATABASE_URL server, or
with `server_only`, on the local PostgreSQL when the run is on SQLite (skipped, with the reason,
when there is none). Redis keys live under a namespace unique to the cluster and are deleted
afterwards (`redis_namespace`).
"""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.utils.servers import REPO_ROOT, free_port, stop, wait_until_up

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LOCAL_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECRET_KEY = "cluster-test-secret-key-long-enough-0123456789"


def _admin(url: str, statements: list[str]) -> None:
    """Run statements on the server of `url`, outside any transaction (CREATE DATABASE)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _reachable(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


@contextmanager
def scratch_database(tmp: Path, *, server_only: bool = False, tag: str = "") -> Iterator[str]:
    """A new, empty database, dropped afterwards: on TEST_DATABASE_URL's server; on a run
    without one a SQLite file in `tmp`, or with `server_only` a database on the local
    PostgreSQL (the test is skipped, saying why, when that is not running)."""
    shared = os.environ.get("TEST_DATABASE_URL")
    if shared and make_url(shared).get_backend_name() == "sqlite":
        shared = None
    if not shared:
        if not server_only:
            yield f"sqlite:///{tmp / 'scratch.db'}"
            return
        if not _reachable(LOCAL_POSTGRESQL):
            pytest.skip(
                "needs a database server shared by processes: set TEST_DATABASE_URL to "
                "PostgreSQL or MariaDB, or run PostgreSQL on 127.0.0.1:5432"
            )
        shared = LOCAL_POSTGRESQL
    url = make_url(shared)
    name = f"{url.database}_{tag or 'scratch'}_{uuid.uuid4().hex[:8]}"
    create = f"CREATE DATABASE {name}"
    if url.get_backend_name() in ("mysql", "mariadb"):
        create += " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    _admin(shared, [create])
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        if url.get_backend_name() == "postgresql":
            # A SIGKILLed server may leave a connection the server has not noticed yet.
            _admin(shared, [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
        else:
            _admin(shared, [f"DROP DATABASE IF EXISTS {name}"])


@contextmanager
def redis_namespace() -> Iterator[str]:
    """A key prefix for JOBS_NAMESPACE (and whatever else shares Redis), cleaned up afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):  # .ci/run starts Redis: its absence there is a failure
            pytest.fail(f"Redis at {REDIS_URL} is down ({exc})")
        pytest.skip(f"needs Redis at {REDIS_URL} ({exc})")
    namespace = f"quill-test-{uuid.uuid4().hex[:12]}"
    try:
        yield namespace
    finally:
        for key in client.scan_iter(match=f"{namespace}*"):
            client.delete(key)
        client.close()


@dataclass
class Node:
    """One process of the cluster; `url` for a server."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    work: Path
    env: dict[str, str]
    nodes: list[Node] = field(default_factory=list)

    def _start(self, name: str, command: str, env: dict[str, str]) -> Node:
        log = self.work / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and command
                [sys.executable, "-m", "app", command],
                cwd=REPO_ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        node = Node(name, proc, log)
        self.nodes.append(node)
        return node

    def serve(self, name: str, **env: str) -> Node:
        """Start `python -m app serve` on a free port and wait until it answers /health."""
        return self.serve_all({name: env})[0]

    def serve_all(self, nodes: dict[str, dict[str, str]]) -> list[Node]:
        """Start a `serve` process for each name (with its settings) at once, then wait until
        every one answers /health: their start-ups overlap."""
        started = []
        for name, env in nodes.items():
            port = str(free_port())
            node = self._start(name, "serve", {"PORT": port, **env})
            node.url = f"http://127.0.0.1:{port}"
            started.append(node)
        for node in started:
            wait_until_up(node.proc, node.url, node.log)
        return started

    def worker(self, name: str, **env: str) -> Node:
        """Start `python -m app worker`; its actors take jobs as soon as it is up."""
        return self._start(name, "worker", env)

    def kill(self, node: Node) -> None:
        """SIGKILL: no shutdown, no background task, no flush."""
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait()

    def close(self) -> None:
        for node in self.nodes:
            stop(node.proc)


@contextmanager
def cluster(
    tmp: Path, *, server_only: bool = False, tag: str = "cluster", **env: str
) -> Iterator[Cluster]:
    """A scratch database and Redis namespace, and what every node shares (the test run's
    settings with JOBS_BACKEND=redis); `env` adds to it. Every node is stopped at the end."""
    with (
        scratch_database(tmp, server_only=server_only, tag=tag) as database_url,
        redis_namespace() as namespace,
    ):
        shared = {
            **os.environ,
            "ENVIRONMENT": "test",
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "HOST": "127.0.0.1",
            "REDIS_URL": REDIS_URL,
            "JOBS_BACKEND": "redis",
            "JOBS_NAMESPACE": namespace,
            # Rate-limit keys too, when a test turns them on: cleaned up with the namespace.
            "RATE_LIMIT_KEY_PREFIX": namespace,
            "UPLOAD_DIR": str(tmp / "uploads"),
            "REQUEST_LOG_FILE": str(tmp / "requests.log"),
            "LOGIN_LOG_FILE": str(tmp / "login_log.txt"),
            "MAIL_BACKEND": "file",
            "MAIL_DIR": str(tmp / "mail"),
            "RATE_LIMIT_ENABLED": "false",
            **env,
        }
        running = Cluster(tmp, shared)
        # Migrated once before any node starts: workers need the tables, and two servers
        # starting at once would both migrate.
        subprocess.run(
            [sys.executable, "-m", "app", "migrate"],
            cwd=REPO_ROOT,
            env=shared,
            check=True,
            capture_output=True,
        )
        try:
            yield running
        finally:
            running.close()
