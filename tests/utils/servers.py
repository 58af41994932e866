"""`python -m app serve` in a process of its own, for tests that need real sockets and threads
(the `client` fixture shares one rolled-back connection, which serialises everything). Several
at once, with workers: tests/utils/cluster.py."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(proc: subprocess.Popen[bytes], base: str, log: Path, timeout: float = 60) -> None:
    """Until `base`/health answers 200; the tail of `log` is the error if `proc` dies first."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text(errors="replace")[-2000:])
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 15 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serve(
    env: dict[str, str],
    *,
    cwd: Path,
    log: Path,
    timeout: float = 60,
    args: Sequence[str] = (),
) -> Iterator[str]:
    """Start the server with `env` (which must set PORT) and `serve` options `args`, wait for
    /health, yield its base URL.

    Its output goes to `log`, whose tail is the error if it dies before answering.
    """
    with log.open("wb") as out:
        command = [sys.executable, "-m", "app", "serve", *args]
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)  # noqa: S603
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_up(proc, base, log, timeout)
        yield base
    finally:
        stop(proc)
