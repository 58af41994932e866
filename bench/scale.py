"""`bench/run.py --scale 10000,100000,1000000`: how the public list's cost grows with the table.

For each size: a scratch database seeded with that many posts (bench/seed.py: 1,000 authors, 10%
drafts, ~1% scheduled), Quill and the ceiling app started fresh, then for each read
(page 1, page 500, ?author_id=, ?tag=, ?q=):
- cold: the first requests after the servers start, each a different query (another page,
  author, tag or search), one client, one at a time: what an uncached request costs;
- warm: wrk on one URL (`--scale-connections`, default 1 client) after a short warm-up:
  the same request repeated.
Beside each, the ceiling app's `/naive/posts` (bench/naive.py): the pre-issue-13 statements,
count(*) and OFFSET, on the same data. Quill's CPU time per warm request comes from
/proc/<pid>/stat.
"""

import http.client
import statistics
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import seed, servers, wrk

COLD_REQUESTS = 9
TWO_WORDS = (
    ("garden", "light"), ("river", "stone"), ("quill", "ink"), ("morning", "essay"),
    ("window", "city"), ("paper", "verse"), ("reader", "note"), ("letter", "road"),
    ("chapter", "idea"), ("margin", "word"), ("evening", "story"), ("blog", "line"),
    ("author", "draft"), ("page", "light"), ("stone", "garden"), ("ink", "river"),
)  # fmt: skip


@dataclass(frozen=True)
class Read:
    key: str
    label: str
    warm: str
    cold: Callable[[int, seed.Seeded], str]  # the i-th distinct query


def _q(pair: tuple[str, str]) -> str:
    return "/posts?" + urllib.parse.urlencode({"q": " ".join(pair)})


READS = (
    Read("page1", "page 1", "/posts", lambda i, _d: f"/posts?per_page={10 + i}"),
    Read("page500", "page 500", "/posts?page=500", lambda i, _d: f"/posts?page={500 + i}"),
    Read(
        "author",
        "?author_id=",
        "/posts?author_id=7",
        lambda i, d: f"/posts?author_id={d.author_ids[(i * 37 + 11) % len(d.author_ids)]}",
    ),
    Read("tag", "?tag=", "/posts?tag=python", lambda i, _d: f"/posts?tag={seed.TAGS[i % 16]}"),
    Read("q", "?q= (two words)", _q(TWO_WORDS[0]), lambda i, _d: _q(TWO_WORDS[1 + i % 15])),
)


@dataclass
class Cell:
    cold_p50: float = 0.0
    cold_p99: float = 0.0
    warm: wrk.WrkResult | None = None
    cpu_ms: float | None = None
    gave_up: bool = False  # one cold request took over GIVE_UP_MS: nothing more was asked


@dataclass
class Line:
    posts: int
    read: Read
    quill: Cell = field(default_factory=Cell)
    naive: Cell = field(default_factory=Cell)


# The naive list at 1M posts on MariaDB takes minutes a page: one such request is the finding,
# and asking more would keep the database busy long after the bench stopped waiting.
GIVE_UP_MS = 20_000


def _cold(base: str, paths: list[str]) -> tuple[float, float]:
    """p50 and worst of one client's requests, one at a time, on one kept-alive connection;
    after a request slower than GIVE_UP_MS, that one alone."""
    parsed = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    times = []
    try:
        for path in paths:
            started = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
            if times[-1] > GIVE_UP_MS:
                break
    finally:
        conn.close()
    return statistics.median(times), max(times)


def measure(
    data: seed.Seeded,
    quill: servers.Server,
    ceiling: servers.Server,
    *,
    duration: float,
    warmup: float,
    connections: int,
    cpu: str | None,
) -> list[Line]:
    lines = [Line(data.posts, read) for read in READS]
    # Cold first, for every read, before anything has warmed a cache.
    for line in lines:
        paths = [line.read.cold(i, data) for i in range(COLD_REQUESTS)]
        for cell, server, prefix in ((line.quill, quill, ""), (line.naive, ceiling, "/naive")):
            cell.cold_p50, cell.cold_p99 = _cold(server.base, [prefix + p for p in paths])
            cell.gave_up = cell.cold_p99 > GIVE_UP_MS
    for line in lines:
        for cell, server, prefix in ((line.quill, quill, ""), (line.naive, ceiling, "/naive")):
            if cell.gave_up:
                continue
            url = server.base + prefix + line.read.warm
            wrk.run(url, connections=connections, duration=warmup, cpu=cpu)
            before = server.cpu_seconds()
            cell.warm = wrk.run(url, connections=connections, duration=duration, cpu=cpu)
            used = server.cpu_seconds() - before
            if cell.warm.requests:
                cell.cpu_ms = used * 1000 / cell.warm.requests
        print(_row(line), flush=True)
    return lines


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _row(line: Line) -> str:
    def cell(c: Cell) -> str:
        w = c.warm
        warm = f"{_ms(w.p50_ms)} / {_ms(w.p99_ms)} | {w.rps:.0f}" if w else "– | –"
        cpu = f"{c.cpu_ms:.2f}" if c.cpu_ms is not None else "–"
        if c.gave_up:
            return f"{_ms(c.cold_p99)} (one request; no more asked) | – | – | –"
        return f"{_ms(c.cold_p50)} / {_ms(c.cold_p99)} | {warm} | {cpu}"

    return f"| {line.posts:,} | {line.read.label} | {cell(line.quill)} | {cell(line.naive)} |"


HEADER = (
    "| posts | read | Quill cold p50 / max ms | Quill warm p50 / p99 ms | Quill req/s "
    "| Quill CPU ms/req | naive cold p50 / max ms | naive warm p50 / p99 ms | naive req/s "
    "| naive CPU ms/req |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table(lines: list[Line]) -> str:
    return "\n".join([HEADER, *(_row(line) for line in lines)])


def document(env_text: str, lines: list[Line]) -> str:
    return (
        f"# Quill scale bench\n\n{env_text}\n\n{table(lines)}\n\n"
        "cold: the first requests after the servers start, each a different query, one at a time "
        "(p50 and the slowest of them); warm: wrk repeating one URL. naive: bench/naive.py, the "
        "list's statements before issue 13 (count(*) + OFFSET), in the ceiling app.\n\n"
        "Reproduce: `make bench scale=10000,100000,1000000` (SQLite), "
        "`DATABASE_URL=... make bench scale=...` (MariaDB/PostgreSQL).\n"
    )


def save(db: str, text: str) -> Path:
    from bench.report import RESULTS

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y-%m-%d')}-scale-{db}.md"
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def innodb_buffer_pool(base_url: str | None, mib: int | None) -> Iterator[str]:
    """The server's InnoDB buffer pool set to `mib` for the run, and its size before put back.
    A million posts outgrow MariaDB's default 128 MiB, and InnoDB reads with O_DIRECT: a cold
    page of one tag or author then reads its 20 posts from disk. Yields the report's note."""
    if mib is None:
        yield ""
        return
    url = make_url(base_url or "")
    if url.get_backend_name() not in ("mysql", "mariadb"):
        raise SystemExit("--innodb-buffer-pool needs a MariaDB/MySQL DATABASE_URL")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            before = int(conn.scalar(text("SELECT @@innodb_buffer_pool_size")) or 0)
            conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {int(mib) * 1024 * 1024}"))
            now = int(conn.scalar(text("SELECT @@innodb_buffer_pool_size")) or 0)
        try:
            mib_now, mib_before = now // 2**20, before // 2**20
            yield f"; innodb_buffer_pool_size {mib_now} MiB for the run ({mib_before} before)"
        finally:
            with engine.connect() as conn:
                conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {before}"))
    finally:
        engine.dispose()


def run(
    sizes: list[int],
    base_url: str | None,
    workdir: Path,
    *,
    duration: float,
    warmup: float,
    connections: int,
    cpus: tuple[str | None, str | None],
) -> tuple[str, str, list[Line]]:
    """Every size in turn, each on a scratch database of its own; (backend, version, lines)."""
    from app.core.security import hash_password

    server_cpu, client_cpu = cpus
    lines: list[Line] = []
    backend = version = ""
    for size in sizes:
        with seed.scratch_database(base_url, workdir) as url:
            started = time.monotonic()
            print(f"seeding {seed.USERS} users and {size:,} posts ...", flush=True)
            data = seed.seed(url, hash_password(seed.PASSWORD), posts=size)
            print(f"  seeded in {time.monotonic() - started:.0f} s", flush=True)
            # The naive list's statements outlast the default 5 s statement timeout at 1M posts.
            env = servers.app_env(data.url, workdir, DB_TIMEOUT_SECONDS="300")
            quill = servers.start(
                "quill", ["-m", "app", "serve"], env, workdir, cpu=server_cpu, probe="/health"
            )
            try:
                ceiling = servers.start(
                    "ceiling",
                    ["-m", "uvicorn", "bench.ceiling:app", "--host", "127.0.0.1",
                     "--port", "{port}", "--no-access-log"],
                    env, workdir, cpu=server_cpu, probe="/const",
                )  # fmt: skip
                try:
                    lines += measure(
                        data, quill, ceiling, duration=duration, warmup=warmup,
                        connections=connections, cpu=client_cpu,
                    )  # fmt: skip
                finally:
                    ceiling.stop()
            finally:
                quill.stop()
            backend = data.backend
            from bench.run import db_version

            version = db_version(data.url, data.backend)
    return backend, version, lines
