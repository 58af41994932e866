"""Server processes for the bench: start pinned to one core, wait until they answer, read their
memory, stop them. Also the few plain HTTP calls the harness makes itself."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.wrk import pinned

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_env(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a bench server: everything it writes stays in `workdir`."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "development",
        "SECRET_KEY": SECRET_KEY,
        "UPLOAD_DIR": str(workdir / "uploads"),
        "REQUEST_LOG_FILE": str(workdir / "requests.log"),
        "LOGIN_LOG_FILE": str(workdir / "login_log.txt"),
        "MAIL_BACKEND": "file",
        "MAIL_DIR": str(workdir / "mail"),
        # The login scenario logs in as one user over and over; failures would lock it out.
        "LOGIN_MAX_FAILURES": "1000000",
        # The login and upload scenarios come from one address, thousands of times a minute.
        "RATE_LIMIT_ENABLED": "false",
        **extra,
    }


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    lifetime_peak_kib: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _status(self, key: str) -> int:
        """A VmXXX line of /proc/<pid>/status, in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def rss_kib(self) -> int:
        return self._status("VmRSS")

    def peak_rss_kib(self) -> int:
        """The peak RSS since the last `reset_peak_rss` (or the start)."""
        peak = self._status("VmHWM")
        self.lifetime_peak_kib = max(self.lifetime_peak_kib, peak)
        return peak

    def reset_peak_rss(self) -> bool:
        """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
        self.peak_rss_kib()  # keep the window that ends here in the lifetime peak
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def bytes_read(self) -> int:
        """Bytes the process has passed through read() so far, sockets included (rchar)."""
        for line in Path(f"/proc/{self.proc.pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
        raise KeyError("rchar")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process (and its reaped children) has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(
    name: str,
    args: list[str],
    env: dict[str, str],
    workdir: Path,
    *,
    cpu: str | None,
    probe: str,
    python: str = sys.executable,
    cwd: Path = ROOT,
) -> Server:
    """Start `python <args>` on a free port and wait until `probe` answers 200.

    The port reaches the server as PORT/HOST in its environment and as `{port}` in `args`.
    `python` and `cwd` are another app's (bench/template.py); Quill's by default.
    """
    port = free_port()
    log = workdir / f"{name}.log"
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    cmd = pinned([python, *[a.replace("{port}", str(port)) for a in args]], cpu)
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, proc, port, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            status, _ = request("GET", server.base + probe, timeout=2)
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer {probe} within 90 s:\n{log.read_text()[-3000:]}")


def request(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """A JSON request; returns (status, decoded body or raw bytes)."""
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw
