"""The bench's pass/fail checks beyond throughput: the event loop under a login flood, memory
while hashing, and uploads that must stream (run only once `POST /uploads` exists)."""

import contextlib
import http.client
import itertools
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import servers, wrk
from bench.servers import Server

MIB = 1024 * 1024
FLOOD_CONNECTIONS = 32
PROBE_CONNECTIONS = 4
HEALTH_P99_LIMIT_MS = 25.0
FLOOD_RSS_LIMIT_MIB = 300.0
UPLOAD_SIZE = 50 * MIB
UPLOAD_RSS_LIMIT_MIB = 8.0
HUGE_BODY = 1024 * MIB
HUGE_READ_LIMIT = 8 * MIB
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    value: str
    target: str
    status: str  # PASS, FAIL or SKIPPED
    note: str = ""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def login_flood(server: Server, body: str, *, duration: float, cpu: str | None) -> list[Check]:
    """32 clients log in nonstop while a second wrk times /health on the same server."""
    server.reset_peak_rss()
    flood = wrk.start(
        server.base + "/auth/login",
        connections=FLOOD_CONNECTIONS,
        duration=duration,
        script="post_json.lua",
        lua_env={"WRK_BODY": body},
        cpu=cpu,
    )
    time.sleep(1)  # let the flood reach its steady state before timing /health
    probe = wrk.run(
        server.base + "/health",
        connections=PROBE_CONNECTIONS,
        duration=max(1.0, duration - 2),
        cpu=cpu,
    )
    logins = wrk.finish(flood, timeout=duration + 60)
    peak_mib = server.peak_rss_kib() / 1024
    note = f"{logins.rps:.0f} logins/s alongside, {logins.errors} login errors"
    return [
        Check(
            "GET /health p99 during a login flood",
            f"{probe.p99_ms:.1f} ms ({probe.rps:.0f} req/s, {probe.errors} errors)",
            f"< {HEALTH_P99_LIMIT_MS:.0f} ms",
            verdict(probe.p99_ms < HEALTH_P99_LIMIT_MS and probe.errors == 0),
            note,
        ),
        Check(
            "server peak RSS during the login flood",
            f"{peak_mib:.0f} MiB",
            f"< {FLOOD_RSS_LIMIT_MIB:.0f} MiB",
            verdict(peak_mib < FLOOD_RSS_LIMIT_MIB),
        ),
    ]


# --- uploads -------------------------------------------------------------------------------------

BOUNDARY = "quillbenchboundary7f3a"


def _part_head(filename: str) -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()


_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def _pdf_chunks(size: int) -> Iterator[bytes]:
    """A `size`-byte file that passes as a PDF: the header first, %%EOF at the end."""
    head, end = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n"
    yield head
    filler = size - len(head) - len(end)
    block = b"0" * CHUNK
    while filler > 0:
        yield block[: min(CHUNK, filler)]
        filler -= CHUNK
    yield end


def _post_upload(server: Server, token: str, size: int) -> int:
    """Stream a multipart upload of one `size`-byte PDF with a Content-Length; the status."""
    head = _part_head("bench.pdf")
    length = len(head) + size + len(_TAIL)

    def body() -> Iterator[bytes]:
        yield head
        yield from _pdf_chunks(size)
        yield _TAIL

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request(
            "POST",
            "/uploads",
            body=body(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(length),
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def upload_route_missing(server: Server, token: str) -> int | None:
    """The status of a small upload when the route is missing (404/405), else None."""
    status = _post_upload(server, token, 4096)
    return status if status in (404, 405) else None


def big_upload(server: Server, token: str) -> Check:
    """A 50 MiB file (limit raised for this server) must not pass through memory."""
    _post_upload(server, token, 4096)  # imports and first-use allocations happen here, not below
    before = server.rss_kib()
    server.reset_peak_rss()
    status = _post_upload(server, token, UPLOAD_SIZE)
    rise_mib = (server.peak_rss_kib() - before) / 1024
    return Check(
        "50 MiB upload: server RSS rise",
        f"{rise_mib:.1f} MiB (status {status})",
        f"< {UPLOAD_RSS_LIMIT_MIB:.0f} MiB, 201",
        verdict(status == 201 and rise_mib < UPLOAD_RSS_LIMIT_MIB),
    )


def huge_body(server: Server, token: str) -> Check:
    """A 1 GiB chunked upload to a server with the default limit: 413 long before the end."""
    read_before = server.bytes_read()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    sent, answer = 0, b""
    try:
        sock.sendall(
            (
                "POST /uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        for chunk in itertools.chain([_part_head("huge.pdf")], _pdf_chunks(HUGE_BODY)):
            # Stop as soon as the server has answered: that answer is what is being tested.
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        sock.settimeout(30)
        answer = sock.recv(65536)
    except (BrokenPipeError, ConnectionResetError):
        # The server may close right after answering; its answer can still be waiting.
        with contextlib.suppress(OSError):
            answer = sock.recv(65536)
    finally:
        sock.close()
    read_mib = (server.bytes_read() - read_before) / MIB
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    ok = " 413 " in f"{status_line} " and read_mib < HUGE_READ_LIMIT / MIB
    return Check(
        "1 GiB upload: refused early",
        f"{status_line or 'no answer'}; server read {read_mib:.1f} MiB, client sent "
        f"{sent / MIB:.1f} MiB",
        f"413 after < {HUGE_READ_LIMIT // MIB} MiB read",
        verdict(ok),
    )


def uploads(
    server: Server,
    token: str,
    credentials: dict[str, str],
    database_url: str,
    workdir: Path,
    cpu: str | None,
) -> list[Check]:
    """Both upload checks, or SKIPPED when the route is not there yet. `server` has the default
    size limit (for the 1 GiB body); a second server with a raised one takes the 50 MiB file."""
    missing = upload_route_missing(server, token)
    if missing is not None:
        note = f"POST /uploads answers {missing}: the route is not merged yet; rerun after it is"
        return [
            Check("50 MiB upload: server RSS rise", "-", "< 8 MiB", "SKIPPED", note),
            Check("1 GiB upload: refused early", "-", "413 after < 8 MiB read", "SKIPPED", note),
        ]
    results = [huge_body(server, token)]
    env = servers.app_env(
        database_url, workdir, MAX_UPLOAD_BYTES=str(64 * MIB), UPLOAD_DIR=str(workdir / "big")
    )
    big = servers.start(
        "quill-uploads", ["-m", "app", "serve"], env, workdir, cpu=cpu, probe="/health"
    )
    try:
        status, body = servers.request("POST", big.base + "/auth/login", body=credentials)
        if status != 200:
            raise RuntimeError(f"login on the upload server failed: {status} {body}")
        results.insert(0, big_upload(big, body["access_token"]))
    finally:
        big.stop()
    return results
