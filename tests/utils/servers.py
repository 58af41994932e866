"""`python -m app serve` in a process of its own, for tests that need real sockets and threads
(the `client` fixture shares one rolled-back connection, which serialises everything)."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(env: dict[str, str], *, cwd: Path, log: Path, timeout: float = 60) -> Iterator[str]:
    """Start the server with `env` (which must set PORT), wait for /health, yield its base URL.

    Its output goes to `log`, whose tail is the error if it dies before answering.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=cwd, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text(errors="replace")[-2000:])
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
