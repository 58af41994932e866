"""`make bench`: Quill under wrk next to its ceilings, on a freshly seeded scratch database.

Seeds 1,000 users and 20,000 posts (SQLite by default; DATABASE_URL names a MariaDB/MySQL or
PostgreSQL server to make a scratch database on), starts Quill and the bare ceiling app
(bench/ceiling.py) with one worker each, pinned to one core, and drives them with wrk from the
other core: 32 connections, 10 s per run after a warm-up, each scenario twice, ours and its
ceiling alternating (A B A B) so drift between runs shows. Then the checks: /health latency and
memory during a login flood, the upload limits, and memory while 20 clients upload large images
(bench/decode.py). Last, `serve --workers 2` on two cores next to one worker on one
(bench/scaling.py). `--checks-only decode` runs just that check (`scaling` just the workers).
`--save` writes bench/results/<date>-<db>.md.
"""

import argparse
import json
import os
import sqlite3
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` and `app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench import checks, decode, pool, report, s3, scale, scaling, seed, servers, wrk
from bench.report import Row

ID_SAMPLE = 1_000
# The scenarios with a ceiling of their own, alternated with it; the rest are compared with the
# constant ceiling measured beside GET /health.
PAIRED = ("posts", "health")


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    server: str  # "quill" or "ceiling"
    path: str
    ceiling: str | None = None
    script: str | None = None
    headers: tuple[str, ...] = ()
    lua_env: dict[str, str] = field(default_factory=dict)
    # Skipped, with a note, when its route answers 404 (a route another branch adds).
    optional: bool = False


def credentials(data: seed.Seeded) -> dict[str, str]:
    return {"email": data.email, "password": data.password}


def scenarios(data: seed.Seeded, token: str) -> list[Scenario]:
    auth = f"Bearer {token}"
    login = json.dumps(credentials(data))
    post = '{"title": "Benchmarked {n}", "content": "' + "Words, words, words. " * 40 + '"}'
    step = max(1, len(data.published_ids) // ID_SAMPLE)
    ids = ",".join(str(i) for i in data.published_ids[::step])
    slugs = ",".join(data.published_slugs[::step])
    commented = ",".join(str(i) for i in data.commented_ids[:ID_SAMPLE])
    return [
        Scenario("posts", "GET /posts?per_page=20", "quill", "/posts?per_page=20", "ceil_posts"),
        Scenario("ceil_posts", "ceiling /posts", "ceiling", "/posts?per_page=20"),
        Scenario("health", "GET /health", "quill", "/health", "ceil_const"),
        Scenario("ceil_const", "ceiling const", "ceiling", "/const"),
        Scenario(
            "post", "GET /posts/{id}", "quill", "/", "ceil_const", "random_post.lua",
            lua_env={"WRK_IDS": ids},
        ),
        Scenario(
            "slug", "GET /posts/slug/{slug}", "quill", "/posts/slug/", "ceil_const",
            "random_path.lua", lua_env={"WRK_KEYS": slugs, "WRK_PREFIX": "/posts/slug/"},
        ),
        Scenario(
            "comments", "GET /posts/{id}/comments", "quill", "/posts/", "ceil_const",
            "random_path.lua",
            lua_env={"WRK_KEYS": commented, "WRK_PREFIX": "/posts/", "WRK_SUFFIX": "/comments"},
            optional=True,
        ),
        Scenario(
            "me", "GET /users/me (bearer)", "quill", "/users/me", "ceil_const",
            headers=(f"Authorization: {auth}",),
        ),
        Scenario(
            "create", "POST /posts", "quill", "/posts", "ceil_const", "post_json.lua",
            lua_env={"WRK_BODY": post, "WRK_AUTH": auth},
        ),
        Scenario(
            "login", "POST /auth/login", "quill", "/auth/login", "ceil_const", "post_json.lua",
            lua_env={"WRK_BODY": login},
        ),
    ]  # fmt: skip


def order(items: list[Scenario], rounds: int) -> list[Scenario]:
    """Each scenario paired with its own ceiling alternates with it (A B A B); the others run
    `rounds` times, one after another."""
    by_key = {s.key: s for s in items}
    paired = [s for s in items if s.ceiling and by_key.get(s.ceiling) and s.key in PAIRED]
    sequence: list[Scenario] = []
    for ours in paired:
        sequence += [ours, by_key[ours.ceiling]] * rounds  # type: ignore[index]
    rest = [s for s in items if s not in paired and s.key not in {p.ceiling for p in paired}]
    return sequence + rest * rounds


def db_version(url: str, backend: str) -> str:
    if backend == "sqlite":
        return sqlite3.sqlite_version
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # PostgreSQL's answer goes on about the compiler; its first two words say enough.
            return " ".join(str(conn.scalar(text("SELECT version()"))).split()[:2])
    finally:
        engine.dispose()


def same_json(quill: servers.Server, ceiling: servers.Server) -> None:
    """The ceiling is only a ceiling if it answers what Quill answers."""
    ours = servers.request("GET", quill.base + "/posts?per_page=20")
    theirs = servers.request("GET", ceiling.base + "/posts?per_page=20")
    if ours != theirs:
        raise SystemExit(f"the ceiling answers differently:\nquill:   {ours}\nceiling: {theirs}")


def smoke(scenario: Scenario, base: str) -> bool:
    """One request by hand first: a scenario answering errors would measure the wrong thing.
    False for an optional scenario whose route is not there (404): it is skipped."""
    if scenario.script == "random_post.lua":
        path = "/posts/" + scenario.lua_env["WRK_IDS"].split(",")[0]
    elif scenario.script == "random_path.lua":
        env = scenario.lua_env
        path = env["WRK_PREFIX"] + env["WRK_KEYS"].split(",")[0] + env.get("WRK_SUFFIX", "")
    else:
        path = scenario.path
    headers = dict(h.split(": ", 1) for h in scenario.headers)
    if scenario.lua_env.get("WRK_AUTH"):
        headers["Authorization"] = scenario.lua_env["WRK_AUTH"]
    body = scenario.lua_env.get("WRK_BODY")
    method = "POST" if body else "GET"
    status, answer = servers.request(
        method, base + path, body=None if body is None else json.loads(body),
        headers=headers,
    )  # fmt: skip
    if status == 404 and scenario.optional:
        print(f"  {scenario.label}: 404, route not in this build: skipped", flush=True)
        return False
    if not 200 <= status < 300:
        raise SystemExit(f"{scenario.label} answers {status} before the bench: {answer}")
    return True


def measure(
    items: list[Scenario],
    by_name: dict[str, servers.Server],
    args: argparse.Namespace,
    cpu: str | None,
) -> dict[str, Row]:
    """Every scenario `args.rounds` times (after one warm-up each), in `order`."""
    rows = {s.key: Row(s.key, s.label, s.ceiling) for s in items}
    warmed: set[str] = set()
    for scenario in order(items, args.rounds):
        server = by_name[scenario.server]
        url = server.base + scenario.path
        options = {
            "connections": args.connections,
            "script": scenario.script,
            "headers": scenario.headers,
            "lua_env": scenario.lua_env,
            "cpu": cpu,
        }
        if scenario.key not in warmed:
            wrk.run(url, duration=args.warmup, **options)  # type: ignore[arg-type]
            warmed.add(scenario.key)
        server.reset_peak_rss()
        result = wrk.run(url, duration=args.duration, **options)  # type: ignore[arg-type]
        row = rows[scenario.key]
        row.runs.append(result)
        row.peak_rss_kib = max(row.peak_rss_kib, server.peak_rss_kib())
        print(
            f"  {scenario.label:<24} {result.rps:>8.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:7.2f} ms  errors {result.errors}",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write bench/results/<date>-<db>.md")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before a first run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", help="comma-separated scenario keys (posts, health, ...)")
    parser.add_argument("--no-checks", action="store_true", help="skip flood and upload checks")
    parser.add_argument(
        "--checks-only",
        help="comma-separated checks (flood, uploads, decode, s3, scaling, pool) to run, "
        "without the scenarios",
    )
    parser.add_argument("--posts", type=int, default=seed.POSTS, help="posts to seed")
    parser.add_argument(
        "--scale", help="comma-separated post counts (10000,100000,1000000): the scale table"
    )
    parser.add_argument(
        "--scale-connections",
        type=int,
        default=1,
        help="wrk clients in the scale table's warm runs",
    )
    parser.add_argument(
        "--innodb-buffer-pool", type=int, metavar="MIB",
        help="MariaDB/MySQL, scale table: innodb_buffer_pool_size for the run (restored after)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    needs_wrk = not args.checks_only or "flood" in args.checks_only.split(",")
    try:
        if needs_wrk:
            wrk.wrk_binary()
    except wrk.WrkMissingError as exc:
        print(exc, file=sys.stderr)
        return 2
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    # The server gets one core, wrk another; on a single core nothing is pinned.
    server_cpu, client_cpu = (str(cpus[0]), str(cpus[1])) if len(cpus) >= 2 else (None, None)

    if args.scale:
        return _scale(args, (server_cpu, client_cpu), len(cpus))

    from app.core.security import hash_password

    found: list[checks.Check] = []
    scaled: tuple[dict[str, tuple[Row, Row]], str] = ({}, "")
    with tempfile.TemporaryDirectory(prefix="quill-bench-") as tmp:
        workdir = Path(tmp)
        with seed.scratch_database(os.environ.get("DATABASE_URL"), workdir) as url:
            print(f"seeding {seed.USERS} users and {args.posts} posts ...", flush=True)
            data = seed.seed(url, hash_password(seed.PASSWORD), posts=args.posts)
            env = servers.app_env(data.url, workdir)
            started: list[servers.Server] = []
            try:
                quill = servers.start(
                    "quill", ["-m", "app", "serve"], env, workdir, cpu=server_cpu, probe="/health"
                )
                started.append(quill)
                ceiling = servers.start(
                    "ceiling",
                    ["-m", "uvicorn", "bench.ceiling:app", "--host", "127.0.0.1",
                     "--port", "{port}", "--no-access-log"],
                    env, workdir, cpu=server_cpu, probe="/const",
                )  # fmt: skip
                started.append(ceiling)
                by_name = {"quill": quill, "ceiling": ceiling}
                same_json(quill, ceiling)
                status, tokens = servers.request(
                    "POST", quill.base + "/auth/login", body=credentials(data)
                )
                if status != 200:
                    raise SystemExit(f"login failed: {status} {tokens}")
                items = scenarios(data, tokens["access_token"])
                if args.only:
                    items = [s for s in items if s.key in args.only.split(",")]
                wanted = {"flood", "uploads", "decode", "s3", "scaling", "pool"}
                if args.checks_only:
                    items, wanted = [], set(args.checks_only.split(","))
                elif args.no_checks:
                    wanted = set()
                items = [s for s in items if smoke(s, by_name[s.server].base)]
                rows = measure(items, by_name, args, client_cpu)
                if wanted:
                    print(f"checks: {', '.join(sorted(wanted))} ...", flush=True)
                if "flood" in wanted:
                    found += checks.login_flood(
                        quill, json.dumps(credentials(data)), duration=args.duration, cpu=client_cpu
                    )
                if "uploads" in wanted:
                    found += checks.uploads(
                        quill,
                        tokens["access_token"],
                        credentials(data),
                        data.url,
                        workdir,
                        server_cpu,
                    )
                if "decode" in wanted:
                    found += decode.decode_memory(credentials(data), data.url, workdir, server_cpu)
                if "s3" in wanted:
                    found += s3.s3_upload(credentials(data), data.url, workdir, server_cpu)
                if "pool" in wanted:
                    post = next(s for s in scenarios(data, "") if s.key == "post")
                    found += pool.churn(
                        quill, post.path, data.url, script=post.script, lua_env=post.lua_env,
                        duration=args.duration, warmup=args.warmup, cpu=client_cpu,
                    )  # fmt: skip
                if "scaling" in wanted:
                    # Its three servers' pools and these two would pass PostgreSQL's 100
                    # connections: these are done.
                    quill.peak_rss_kib()
                    for server in started:
                        server.stop()
                    every = scenarios(data, tokens["access_token"])
                    if args.only:
                        every = [s for s in every if s.key in args.only.split(",")]
                    scaled = scaling.measure(
                        every, env, workdir, cpus=cpus, connections=args.connections,
                        duration=args.duration, warmup=args.warmup, rounds=args.rounds,
                    )  # fmt: skip
                if quill.proc.poll() is None:
                    quill.peak_rss_kib()
            finally:
                for server in started:
                    server.stop()
            version = db_version(data.url, data.backend)
    settings = (
        f"one uvicorn worker per server, wrk -t1 -c{args.connections} -d{args.duration:g}s "
        f"after {args.warmup:g} s warm-up, {args.rounds} runs each"
        + (f"; server on CPU {server_cpu}, wrk on CPU {client_cpu}" if server_cpu else "")
    )
    env_text = report.environment(data.backend, version, settings, len(cpus) or os.cpu_count() or 1)
    text = report.document(env_text, rows, found, quill.lifetime_peak_kib)
    if scaled[0]:
        text += "\n" + scaling.table(*scaled) + "\n"
    print()
    print(text)
    if args.save:
        print(f"saved to {report.save(data.backend, text)}")
    return 0


def _scale(args: argparse.Namespace, cpus: tuple[str | None, str | None], cores: int) -> int:
    sizes = [int(n) for n in args.scale.split(",")]
    base_url = os.environ.get("DATABASE_URL")
    with (
        tempfile.TemporaryDirectory(prefix="quill-scale-") as tmp,
        scale.innodb_buffer_pool(base_url, args.innodb_buffer_pool) as pool_note,
    ):
        backend, version, lines = scale.run(
            sizes, base_url, Path(tmp), duration=args.duration,
            warmup=args.warmup, connections=args.scale_connections, cpus=cpus,
        )  # fmt: skip
    settings = (
        f"one uvicorn worker per server, warm: wrk -t1 -c{args.scale_connections} "
        f"-d{args.duration:g}s after {args.warmup:g} s"
        + (f"; servers on CPU {cpus[0]}, clients on CPU {cpus[1]}" if cpus[0] else "")
        + pool_note
    )
    text = scale.document(report.environment(backend, version, settings, cores), lines)
    print()
    print(text)
    if args.save:
        print(f"saved to {scale.save(backend, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
