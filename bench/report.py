"""The bench's table, and the Markdown file `--save` writes to bench/results/."""

import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.checks import Check
from bench.wrk import WrkResult

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    key: str
    label: str
    ceiling: str | None  # key of the row this one is compared with
    runs: list[WrkResult] = field(default_factory=list)
    peak_rss_kib: int = 0

    @property
    def rps(self) -> float:
        return statistics.fmean(r.rps for r in self.runs) if self.runs else 0.0

    @property
    def p50(self) -> float:
        return statistics.fmean(r.p50_ms for r in self.runs) if self.runs else 0.0

    @property
    def p99(self) -> float:
        # The worst run's: a tail that shows up in one run of two is real.
        return max((r.p99_ms for r in self.runs), default=0.0)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def ratio(row: Row, rows: dict[str, Row]) -> float | None:
    if row.ceiling is None or row.ceiling not in rows or not rows[row.ceiling].rps:
        return None
    return row.rps / rows[row.ceiling].rps


def table(rows: dict[str, Row]) -> str:
    lines = [
        "| scenario | req/s | runs (req/s) | p50 | p99 | errors | × ceiling | peak RSS |",
        "|---|---:|---|---:|---:|---:|---|---:|",
    ]
    for row in rows.values():
        r = ratio(row, rows)
        versus = f"{r:.2f} × {rows[row.ceiling].label}" if r is not None and row.ceiling else ""
        runs = " / ".join(f"{run.rps:.0f}" for run in row.runs)
        lines.append(
            f"| {row.label} | {row.rps:.0f} | {runs} | {_ms(row.p50)} | {_ms(row.p99)} "
            f"| {row.errors} | {versus} | {row.peak_rss_kib / 1024:.0f} MiB |"
        )
    return "\n".join(lines)


def checks_table(checks: list[Check]) -> str:
    lines = ["| check | measured | target | result |", "|---|---|---|---|"]
    for check in checks:
        result = f"{check.status} ({check.note})" if check.note else check.status
        lines.append(f"| {check.name} | {check.value} | {check.target} | {result} |")
    return "\n".join(lines)


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment(db: str, db_version: str, settings: str, cpus: int) -> str:
    return (
        f"- commit {_git_commit()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
        f"- database: {db} {db_version}\n"
        f"- Python {platform.python_version()}, {platform.system()} {platform.release()}, "
        f"{cpus} cores ({_cpu_model()})\n"
        f"- {settings}"
    )


def document(env_text: str, rows: dict[str, Row], checks: list[Check], peak_kib: int) -> str:
    checks_text = f"{checks_table(checks)}\n\n" if checks else ""
    return (
        f"# Quill bench\n\n{env_text}\n\n{table(rows)}\n\n"
        f"Quill's peak RSS over the whole run: {peak_kib / 1024:.0f} MiB.\n\n{checks_text}"
        "Reproduce: `make bench` (SQLite), `DATABASE_URL=... make bench` (MariaDB/PostgreSQL), "
        "`make bench save=1` to write this file.\n"
    )


def save(db: str, text: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-{db}.md"
    path.write_text(text, encoding="utf-8")
    return path
