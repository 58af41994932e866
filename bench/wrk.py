"""Running wrk and reading its report."""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class WrkMissingError(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors (connect, read, write, timeout)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissingError(
            "wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu), "
            "`brew install wrk` (macOS), or build it from https://github.com/wg/wrk"
        )
    return found


def pinned(cmd: list[str], cpu: str | None) -> list[str]:
    """Prefix `cmd` with taskset when there is a CPU to pin to and taskset exists."""
    if cpu is None or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", cpu, *cmd]


def parse(output: str) -> WrkResult:
    latencies = {
        pct: float(value) * _UNITS_MS[unit] for pct, value, unit in _LATENCY.findall(output)
    }
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    if rps is None or total is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = sum(int(n) for n in _NON_2XX.findall(output))
    socket = _SOCKET.search(output)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=latencies.get("50", float("nan")),
        p99_ms=latencies.get("99", float("nan")),
        requests=int(total.group(1)),
        errors=errors,
    )


def command(
    url: str,
    *,
    connections: int,
    duration: float,
    script: str | None = None,
    headers: tuple[str, ...] = (),
    cpu: str | None = None,
) -> list[str]:
    cmd = [
        wrk_binary(),
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", str(LUA_DIR / script)]
    return pinned([*cmd, url], cpu)


def run(
    url: str,
    *,
    connections: int,
    duration: float,
    script: str | None = None,
    headers: tuple[str, ...] = (),
    lua_env: dict[str, str] | None = None,
    cpu: str | None = None,
) -> WrkResult:
    """One wrk run; `lua_env` reaches the Lua script through os.getenv."""
    cmd = command(
        url, connections=connections, duration=duration, script=script, headers=headers, cpu=cpu
    )
    env = {**os.environ, **(lua_env or {})}
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, check=False, timeout=duration + 60
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(done.stdout)


def start(
    url: str,
    *,
    connections: int,
    duration: float,
    script: str | None = None,
    headers: tuple[str, ...] = (),
    lua_env: dict[str, str] | None = None,
    cpu: str | None = None,
) -> subprocess.Popen[str]:
    """Start wrk in the background (for two loads at once); `finish` reads its result."""
    cmd = command(
        url, connections=connections, duration=duration, script=script, headers=headers, cpu=cpu
    )
    env = {**os.environ, **(lua_env or {})}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float) -> WrkResult:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err or out}")
    return parse(out)
