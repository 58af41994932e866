"""Prometheus metrics for `GET /metrics` (METRICS_ENABLED): the series, and how the worker
processes of one server add up.

prometheus_client counts and writes the text format; in its multiprocess mode each process keeps
its values in files under PROMETHEUS_MULTIPROC_DIR and a scrape, whichever worker answers it, sums
them. What the library leaves to its user, and this module does:

- The mode is fixed when prometheus_client is first imported, from PROMETHEUS_MULTIPROC_DIR. So
  nothing here imports it at module level: `Metrics` does, once, when an app with metrics on is
  built, and `server_directory` (app.cli's serve) sets the variable first, with a fresh directory
  for each server start, removed when the server stops. Without the variable (one process run
  some other way) the values stay in memory and the scrape shows that process alone.
- Off, nothing is imported or counted: the recording functions below (`count_login`,
  `count_stored`, `count_mail`) check one global, and the request middleware gets no observer.
- Requests are labelled by route template (`/posts/{post_id}`), and every path no route matches
  by one label, so clients cannot grow the series without bound.
- Pool use comes from the pool's checkout and checkin events; the gauges are live sums, so a
  worker that stopped no longer counts.
"""

import os
import shutil
import signal
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine, event
from starlette.types import Scope

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The route label of every request no route matched (unknown paths, a refused Host).
UNMATCHED = "unmatched"
# Any other method a client sends is counted under one label, for the same reason.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds. Finer than the library's default at the low end, where most answers are.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """Every quill_ series of this process (README lists them), and the request observer."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        self.multiprocess: bool = getattr(values.ValueClass, "_multiprocess", False)
        if self.multiprocess:
            forget_dead_processes(Path(os.environ[MULTIPROC_ENV]))
        # Our own registry: a second app in the process (tests) must not register them twice.
        self.registry = CollectorRegistry(auto_describe=False)
        reg = self.registry
        self.requests = Counter(
            "quill_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "quill_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.logins = Counter(
            "quill_logins", "Logins by outcome: success, failure, locked", ["outcome"], registry=reg
        )
        self.stored_bytes = Counter(
            "quill_upload_stored_bytes",
            "Bytes of files stored, by kind: upload, avatar, cover",
            ["kind"],
            registry=reg,
        )
        self.stored_files = Counter(
            "quill_upload_stored_files", "Files stored, by kind", ["kind"], registry=reg
        )
        self.mails = Counter(
            "quill_mails",
            "Mails handed to the mail backend, by result (sent, failed) and backend",
            ["result", "backend"],
            registry=reg,
        )

        def pool_gauge(name: str, text: str) -> Any:
            # Summed over the live processes only: a stopped worker's connections are gone.
            return Gauge(name, text, registry=reg, multiprocess_mode="livesum")

        self.pool_checked_out = pool_gauge("quill_db_pool_checked_out", "Connections in use")
        self.pool_size = pool_gauge("quill_db_pool_size", "Connections the pools keep open")
        self.pool_overflow = pool_gauge(
            "quill_db_pool_overflow", "Connections in use beyond the pool size"
        )
        # (method, route, status) → its two children: labels() takes a lock and builds a key.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._instrumented: weakref.WeakSet[Engine] = weakref.WeakSet()

    def observe_request(self, method: str, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered request; RequestContextMiddleware calls it as the request ends."""
        route = scope.get("route")
        key = (
            method if method in _METHODS else "OTHER",
            getattr(route, "path", None) or UNMATCHED,
            status,
        )
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(key[0], key[1], str(status)),
                self.latency.labels(key[0], key[1]),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def instrument_pool(self, engine: Engine) -> None:
        """Follow `engine`'s pool: its size now, connections in use as they come and go."""
        if engine in self._instrumented:  # tests hand one engine to several apps
            return
        self._instrumented.add(engine)
        size_of = getattr(engine.pool, "size", None)
        size: int = size_of() if callable(size_of) else 0
        self.pool_size.inc(size)
        lock = threading.Lock()
        in_use = 0

        def moved(delta: int) -> None:
            nonlocal in_use
            with lock:
                before, in_use = in_use, in_use + delta
                overflow = max(0, in_use - size) - max(0, before - size)
                self.pool_checked_out.inc(delta)
                if overflow:
                    self.pool_overflow.inc(overflow)

        event.listen(engine, "checkout", lambda *_: moved(1))
        event.listen(engine, "checkin", lambda *_: moved(-1))

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """Every process's series (this one's, outside multiprocess mode) and their content type,
        in the format the scraper's Accept header asks for (the classic text format by default,
        OpenMetrics on request), as prometheus_client negotiates it."""
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import choose_encoder
        from prometheus_client.multiprocess import MultiProcessCollector

        encode, content_type = choose_encoder(accept)
        if not self.multiprocess:
            return encode(self.registry), content_type
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return encode(registry), content_type

    def process_stopped(self) -> None:
        """This process's live gauges stop counting (its connections are gone with it)."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def forget_dead_processes(directory: Path) -> None:
    """Drop the live gauges of processes that are gone without saying so (a killed worker that
    uvicorn replaced): its pool would otherwise count in the sums until the server stops.
    Its counters stay, as counters must not go down."""
    from prometheus_client import multiprocess

    pids = {path.stem.rsplit("_", 1)[-1] for path in directory.glob("gauge_live*_*.db")}
    for pid in filter(str.isdigit, pids):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's


_active: Metrics | None = None


def enable() -> Metrics:
    """This process's Metrics, built on first use; from then on the counts below are kept."""
    global _active
    if _active is None:
        _active = Metrics()
    return _active


def count_login(outcome: str) -> None:
    """`success`, `failure` or `locked` (app.auth.service.authenticate)."""
    if _active is not None:
        _active.logins.labels(outcome).inc()


def count_stored(kind: str, size: int) -> None:
    """A file of `size` bytes is stored, as `kind` (app.uploads.service)."""
    if _active is not None:
        _active.stored_bytes.labels(kind).inc(size)
        _active.stored_files.labels(kind).inc()


def count_mail(backend: str, *, sent: bool) -> None:
    """The mail backend took a message, or failed to (app.core.mail.Mailer)."""
    if _active is not None:
        _active.mails.labels("sent" if sent else "failed", backend).inc()


@contextmanager
def server_directory(enabled: bool) -> Iterator[None]:
    """For one server start with metrics on: a new PROMETHEUS_MULTIPROC_DIR that its workers
    inherit, removed with whatever they wrote when the server stops, so no run reads another's
    counts. One the operator set is used as it is (created if missing): emptying it is theirs,
    as several servers may share it on purpose."""
    given = os.environ.get(MULTIPROC_ENV)
    if not enabled or given:
        if enabled and given:
            Path(given).mkdir(parents=True, exist_ok=True)
        yield
        return
    path = tempfile.mkdtemp(prefix="quill-metrics-")
    os.environ[MULTIPROC_ENV] = path

    def remove() -> None:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)

    # uvicorn, stopped by SIGTERM, shuts down and then raises the signal again under the handler
    # it found, by default one that ends the process without running `finally`: this one
    # removes the directory first, then lets the signal end the process as it would have.
    previous = signal.getsignal(signal.SIGTERM) or signal.SIG_DFL

    def on_sigterm(signum: int, _frame: FrameType | None) -> None:
        remove()
        signal.signal(signum, previous)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        remove()
