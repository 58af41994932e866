"""Quill's post list next to fastapi/full-stack-fastapi-template's item list, on PostgreSQL.

`python bench/template.py --template-dir DIR` (or TEMPLATE_DIR=DIR): DIR is a checkout of the
template (nothing of it is committed here). Its backend is copied to a temporary folder and run
from a venv of its own (`--venv`, built once) holding Quill's requirements.lock versions of every
package both use and the template's uv.lock versions of the rest (bench/template_setup.py).

Each app gets a scratch database of its own on the PostgreSQL server DATABASE_URL names (default
postgres@127.0.0.1:5432), dropped after: Quill seeded as `make bench` seeds it (1,000 users,
20,000 posts), the template through its own Alembic migrations with 1 superuser, 1,000 users and
20,000 items, plus the two indexes its list lacks (template_setup.INDEXES). Both run under
uvicorn, one worker pinned to one core, and wrk (32 connections) drives them from the other,
alternating A B A B: Quill's anonymous `GET /posts?per_page=20` (cached, and with a query
parameter that changes every request so no page is kept) against the superuser's
`GET /api/v1/items/?limit=20` (a page of all 20,000 items and their count), plus a plain user's
list of their own items.
"""

import argparse
import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python bench/template.py`: make `bench` and `app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url

from bench import report, seed, servers, template_setup, wrk
from bench.report import Row

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ITEMS = "/api/v1/items/?limit=20"


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    server: str  # "quill" or "template"
    path: str
    versus: str | None = None  # the template row this one is divided by
    script: str | None = None
    headers: tuple[str, ...] = ()
    lua_env: dict[str, str] = field(default_factory=dict)


def scenarios(admin_token: str, user_token: str) -> list[Scenario]:
    admin = (f"Authorization: Bearer {admin_token}",)
    uncached = "/posts?per_page=20&v={n}"
    return [
        Scenario("quill", "Quill GET /posts?per_page=20", "quill", "/posts?per_page=20", "all"),
        Scenario("all", "template items (superuser)", "template", ITEMS, headers=admin),
        Scenario(
            "quill_uncached", "Quill, uncached (&v=random)", "quill", uncached, "all",
            "unique_query.lua", lua_env={"WRK_PATH": uncached},
        ),
        Scenario(
            "own", "template items (own, user)", "template", ITEMS,
            headers=(f"Authorization: Bearer {user_token}",),
        ),
    ]  # fmt: skip


def login(base: str, email: str) -> str:
    """The template's OAuth2 password form: a bearer token."""
    form = urllib.parse.urlencode({"username": email, "password": template_setup.PASSWORD})
    req = urllib.request.Request(
        base + "/api/v1/login/access-token", data=form.encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        token: str = json.loads(resp.read())["access_token"]
    return token


def smoke(scenario: Scenario, base: str, items: int) -> None:
    """One request by hand: a list answering errors, or not the whole table, measures nothing."""
    headers = dict(h.split(": ", 1) for h in scenario.headers)
    status, body = servers.request("GET", base + scenario.path.replace("{n}", "1"), headers=headers)
    if (
        status != 200
        or not isinstance(body, dict)
        or len(body.get("data", [])) != min(20, body.get("count", 20))
    ):
        raise SystemExit(f"{scenario.label} answers {status} before the bench: {body!r:.300}")
    if scenario.key == "all" and body["count"] != items:
        raise SystemExit(f"{scenario.label}: count {body['count']}, expected {items}")


def measure(
    items: list[Scenario], by_name: dict[str, servers.Server], args: argparse.Namespace,
    cpu: str | None,
) -> dict[str, Row]:  # fmt: skip
    """Each scenario `args.rounds` times after one warm-up, the list in turn each round: A B A B."""
    rows = {s.key: Row(s.key, s.label, s.versus) for s in items}
    for round_ in range(args.rounds):
        for scenario in items:
            server = by_name[scenario.server]
            url = server.base + scenario.path
            options = {
                "connections": args.connections,
                "script": scenario.script,
                "headers": scenario.headers,
                "lua_env": scenario.lua_env,
                "cpu": cpu,
            }
            if round_ == 0:
                wrk.run(url, duration=args.warmup, **options)
            server.reset_peak_rss()
            result = wrk.run(url, duration=args.duration, **options)
            rows[scenario.key].runs.append(result)
            row = rows[scenario.key]
            row.peak_rss_kib = max(row.peak_rss_kib, server.peak_rss_kib())
            print(
                f"  {scenario.label:<30} {result.rps:>8.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
                f"p99 {result.p99_ms:7.2f} ms  errors {result.errors}",
                flush=True,
            )
    return rows


def table(rows: dict[str, Row]) -> str:
    lines = [
        "| scenario | req/s | runs (req/s) | p50 | p99 | errors | × template | peak RSS |",
        "|---|---:|---|---:|---:|---:|---|---:|",
    ]
    for row in rows.values():
        r = report.ratio(row, rows)
        versus = f"{r:.2f} × {rows[row.ceiling].label}" if r is not None and row.ceiling else ""
        runs = " / ".join(f"{run.rps:.0f}" for run in row.runs)
        lines.append(
            f"| {row.label} | {row.rps:.0f} | {runs} | {row.p50:.2f} ms | {row.p99:.2f} ms "
            f"| {row.errors} | {versus} | {row.peak_rss_kib / 1024:.0f} MiB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template-dir", default=os.environ.get("TEMPLATE_DIR"))
    parser.add_argument(
        "--venv",
        default=os.environ.get(
            "TEMPLATE_VENV", str(Path(tempfile.gettempdir()) / "quill-template-venv")
        ),
        help="the template's virtual environment (built there if missing or out of date)",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--items", type=int, default=seed.POSTS, help="posts and items to seed")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before a first run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--save", action="store_true", help="write bench/results/<date>-template.md"
    )
    args = parser.parse_args(argv)
    if not args.template_dir:
        parser.error("name the template's checkout: --template-dir DIR or TEMPLATE_DIR=DIR")
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url / DATABASE_URL: the template runs on PostgreSQL only")
    wrk.wrk_binary()
    template_dir = Path(args.template_dir).resolve()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu, client_cpu = (str(cpus[0]), str(cpus[1])) if len(cpus) >= 2 else (None, None)
    python, versions = template_setup.venv(template_dir, Path(args.venv))

    from app.core.security import hash_password

    with tempfile.TemporaryDirectory(prefix="quill-template-") as tmp:
        workdir = Path(tmp)
        copy, shims = template_setup.runnable_copy(template_dir, workdir)
        tpl_name = f"template_bench_{os.getpid()}"
        with (
            seed.scratch_database(args.database_url, workdir) as quill_url,
            seed.scratch_database(args.database_url, workdir, tpl_name) as tpl_url,
        ):
            print(f"seeding Quill: {seed.USERS} users, {args.items} posts ...", flush=True)
            data = seed.seed(quill_url, hash_password(seed.PASSWORD), posts=args.items)
            print(f"seeding the template: {seed.USERS} users, {args.items} items ...", flush=True)
            seeded = template_setup.seed(python, copy, tpl_url, users=seed.USERS, items=args.items)
            started: list[servers.Server] = []
            try:
                quill = servers.start(
                    "quill", ["-m", "app", "serve"], servers.app_env(data.url, workdir),
                    workdir, cpu=server_cpu, probe="/health",
                )  # fmt: skip
                started.append(quill)
                template = servers.start(
                    "template",
                    ["-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", "{port}",
                     "--no-access-log"],
                    template_setup.environment(tpl_url), workdir, cpu=server_cpu,
                    probe="/api/v1/utils/health-check/", python=str(python), cwd=copy,
                )  # fmt: skip
                started.append(template)
                items = scenarios(
                    login(template.base, template_setup.SUPERUSER),
                    login(template.base, seeded.user_email),
                )
                by_name = {"quill": quill, "template": template}
                for scenario in items:
                    smoke(scenario, by_name[scenario.server].base, args.items)
                load = os.getloadavg()[0]
                rows = measure(items, by_name, args, client_cpu)
                load = max(load, os.getloadavg()[0])
            finally:
                for server in started:
                    server.stop()
    settings = (
        f"one uvicorn worker per server, wrk -t1 -c{args.connections} -d{args.duration:g}s "
        f"after {args.warmup:g} s warm-up, {args.rounds} runs each, alternated"
        + (f"; servers on CPU {server_cpu}, wrk on CPU {client_cpu}" if server_cpu else "")
        + f"; 1-minute load average up to {load:.1f} (other jobs on the machine count too)"
    )
    env_text = report.environment("postgresql", seeded.db_version, settings, len(cpus) or 1)
    text = document(env_text, rows, template_dir, versions, shims, seeded)
    print()
    print(text)
    if args.save:
        print(f"saved to {report.save('template', text)}")
    return 0


def document(
    env_text: str, rows: dict[str, Row], template_dir: Path, versions: dict[str, str],
    shims: list[str], seeded: template_setup.Seeded,
) -> str:  # fmt: skip
    shown = ("fastapi", "starlette", "pydantic", "sqlalchemy", "sqlmodel", "psycopg", "uvicorn")
    lines = [
        "# Quill next to full-stack-fastapi-template (PostgreSQL)",
        "",
        env_text,
        f"- template commit {template_setup.commit_of(template_dir)}; "
        + ", ".join(f"{n} {versions[n]}" for n in shown if n in versions)
        + f" (all {len(versions) - 1} packages shared with Quill at requirements.lock's versions)",
        f"- template changes to run on this Python: {'; '.join(shims) or 'none'}; "
        "started with `uvicorn app.main:app --no-access-log`",
        "- indexes added to the template: " + "; ".join(f"`{s}`" for s in seeded.indexes),
        "- template plans: " + "; ".join(f"{k}: {v}" for k, v in seeded.plans.items()),
        "",
        table(rows),
        "",
        "Reproduce: `TEMPLATE_DIR=... make bench-template` (`save=1` writes this file).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
