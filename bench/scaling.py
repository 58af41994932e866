"""What a second worker buys: `serve --workers 2` on two cores next to one worker on one core,
the same scenarios alternated (A B A B) against both, on the bench's database (PostgreSQL is the
one that matters: with SQLite every worker contends for one file).

On a machine with three cores or more wrk gets a core of its own; on two, wrk shares the second
core with the second worker in the two-worker runs (and has it alone in the one-worker runs), so
the scaling shown there is a floor. Each worker is its own process: the table has no RSS column,
as the main process's is not the workers'.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench import servers, wrk
from bench.report import Row
from bench.servers import Server

WORKERS = 2
POOL_SIZE = 30
# The scenarios measured on both: reads through the database, the bearer check, and the
# password hash (CPU-bound in the worker, so the one that should scale best).
KEYS = ("posts", "post", "me", "login")


class ScenarioLike(Protocol):  # bench.run.Scenario, which imports this module
    @property
    def key(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def script(self) -> str | None: ...
    @property
    def headers(self) -> tuple[str, ...]: ...
    @property
    def lua_env(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Cores:
    one: str | None  # the one-worker server
    two: str | None  # the two-worker server
    client: str | None  # wrk
    note: str


def cores(cpus: list[int]) -> Cores:
    if len(cpus) >= 3:
        return Cores(
            str(cpus[0]),
            f"{cpus[0]},{cpus[1]}",
            str(cpus[2]),
            f"one worker on CPU {cpus[0]}, two on CPUs {cpus[0]},{cpus[1]}, wrk on CPU {cpus[2]}",
        )
    if len(cpus) == 2:
        return Cores(
            str(cpus[0]),
            f"{cpus[0]},{cpus[1]}",
            str(cpus[1]),
            f"one worker on CPU {cpus[0]}, two on CPUs {cpus[0]},{cpus[1]}, wrk on CPU {cpus[1]} "
            "(shared with the second worker: the two-worker figures are a floor)",
        )
    return Cores(None, None, None, "nothing pinned (fewer than two cores)")


def measure(
    items: Sequence[ScenarioLike],
    env: dict[str, str],
    workdir: Path,
    *,
    cpus: list[int],
    connections: int,
    duration: float,
    warmup: float,
    rounds: int,
) -> tuple[dict[str, tuple[Row, Row]], str]:
    """For each scenario of KEYS in `items`: its row with one worker and with two, and a line
    saying where each ran."""
    placed = cores(cpus)
    chosen = [s for s in items if s.key in KEYS]
    rows: dict[str, tuple[Row, Row]] = {}
    supervisor = ""
    if not chosen:
        return rows, placed.note
    started: list[Server] = []
    # One worker and two keep up to three pools open at once: 3 x 30 stays under PostgreSQL's
    # default 100 connections, and 30 is about what 32 clients need of one worker.
    env = {**env, "DB_POOL_SIZE": str(POOL_SIZE)}
    try:
        one = servers.start(
            "quill-1w", ["-m", "app", "serve"], env, workdir, cpu=placed.one, probe="/health"
        )
        started.append(one)
        two = servers.start(
            f"quill-{WORKERS}w",
            ["-m", "app", "serve", "--workers", str(WORKERS)],
            env,
            workdir,
            cpu=placed.two,
            probe="/health",
        )
        started.append(two)
        # The supervisor only watches its workers: it should hold little (it migrates in a child).
        supervisor = f"; the {WORKERS}-worker supervisor's RSS: {two.rss_kib() / 1024:.0f} MiB"
        for scenario in chosen:
            pair = (
                Row(scenario.key, f"{scenario.label}, 1 worker", None),
                Row(scenario.key, f"{scenario.label}, {WORKERS} workers", None),
            )

            for server in (one, two):
                _wrk(server, scenario, warmup, connections, placed.client)
            for _ in range(rounds):
                for server, row in zip((one, two), pair, strict=True):
                    result = _wrk(server, scenario, duration, connections, placed.client)
                    row.runs.append(result)
                    print(
                        f"  {row.label:<40} {result.rps:>8.0f} req/s  p99 {result.p99_ms:7.2f} ms"
                        f"  errors {result.errors}",
                        flush=True,
                    )
            rows[scenario.key] = pair
    finally:
        for server in started:
            server.stop()
    return rows, placed.note + supervisor


def _wrk(
    server: Server, scenario: ScenarioLike, seconds: float, connections: int, cpu: str | None
) -> wrk.WrkResult:
    return wrk.run(
        server.base + scenario.path,
        connections=connections,
        duration=seconds,
        script=scenario.script,
        headers=scenario.headers,
        lua_env=scenario.lua_env,
        cpu=cpu,
    )


def table(rows: dict[str, tuple[Row, Row]], note: str) -> str:
    lines = [
        f"Scaling: `serve --workers {WORKERS}` next to one worker ({note}).",
        "",
        f"| scenario | 1 worker req/s | {WORKERS} workers req/s | scaling | p99 1 / {WORKERS} "
        "| errors |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for one, two in rows.values():
        scale = f"{two.rps / one.rps:.2f}×" if one.rps else ""
        label = one.label.rsplit(", ", 1)[0]
        lines.append(
            f"| {label} | {one.rps:.0f} | {two.rps:.0f} | {scale} "
            f"| {one.p99:.1f} / {two.p99:.1f} ms | {one.errors + two.errors} |"
        )
    return "\n".join(lines)
