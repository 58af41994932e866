"""Instructions per request under callgrind: Quill's list (page-cache hit, 304, miss) next to the
ceiling app's constant route and its list, counted without wrk or uvicorn, so the figures do not
depend on what else the machine runs.

`python bench/instructions.py` seeds a scratch SQLite database (natively), then runs itself
under `valgrind --tool=callgrind --instr-atstart=no`: each scenario drives the ASGI app directly
(the scope uvicorn would build, no sockets), warms up, and counts only its N requests, started
and stopped by callgrind client requests (a small C shim compiled here). `--native` runs the same
loop without valgrind and prints microseconds per request instead (noisy on a shared machine).
"""

import argparse
import asyncio
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/instructions.py`: make `bench` and `app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHIM = r"""
#include <valgrind/callgrind.h>
void quill_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void quill_stop(const char *name) { CALLGRIND_DUMP_STATS_AT(name); CALLGRIND_STOP_INSTRUMENTATION; }
"""
WARMUP = 30
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def shim(workdir: Path) -> Path:
    source, library = workdir / "shim.c", workdir / "shim.so"
    source.write_text(SHIM)
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def scope_for(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """What uvicorn hands the app for a plain HTTP/1.1 GET from a local client."""
    raw_path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"wrk"),
            (b"accept", b"*/*"),
            *headers,
        ],
        "state": {},
    }


async def request(app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_for(path, headers), receive, send)
    status: int = sent[0]["status"]
    return status


Scenario = tuple[str, str, str, list[tuple[bytes, bytes]], int]


def scenarios() -> list[Scenario]:
    """(name, app, path, headers, expected status); a `{n}` in the path varies per request."""
    return [
        ("quill cached", "quill", "/posts?per_page=20", [], 200),
        ("quill 304", "quill", "/posts?per_page=20", [(b"if-none-match", b"{etag}")], 304),
        ("quill uncached", "quill", "/posts?per_page=20&v={n}", [], 200),
        ("ceiling const", "ceiling", "/const", [], 200),
        ("ceiling /posts", "ceiling", "/posts?per_page=20", [], 200),
    ]


async def etag_of(app: ASGIApp) -> bytes:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_for("/posts?per_page=20", []), receive, send)
    return dict(sent[0]["headers"])[b"etag"]


async def drive(apps: dict[str, ASGIApp], n: int, lib: ctypes.CDLL | None, only: str) -> None:
    etag = await etag_of(apps["quill"])
    counter = iter(range(10**9))
    for name, which, path, headers, expected in scenarios():
        if only and name not in only.split(","):
            continue
        app = apps[which]
        wanted = [(k, v.replace(b"{etag}", etag)) for k, v in headers]

        async def one(app: ASGIApp = app, path: str = path, wanted: Any = wanted) -> int:
            return await request(app, path.replace("{n}", str(next(counter))), wanted)

        for _ in range(WARMUP):
            assert await one() == expected, name
        began = time.perf_counter()
        if lib is not None:
            lib.quill_start()
        for _ in range(n):
            await one()
        if lib is not None:
            lib.quill_stop(name.replace(" ", "_").replace("/", "").encode())
        elapsed = (time.perf_counter() - began) / n * 1e6
        print(f"{name:<16} {elapsed:9.1f} us/request (wall, native only)", flush=True)


def child(db: Path, n: int, shim_path: str | None, only: str) -> None:
    workdir = db.parent
    from bench import servers

    os.environ.update(servers.app_env(f"sqlite:///{db}", workdir))
    from app.main import create_app
    from bench import ceiling

    quill = create_app()

    async def main() -> None:
        async with quill.router.lifespan_context(quill), ceiling.lifespan(ceiling.app):
            lib = ctypes.CDLL(shim_path) if shim_path else None
            await drive({"quill": quill, "ceiling": ceiling.app}, n, lib, only)

    asyncio.run(main())


def totals(directory: Path) -> dict[str, int]:
    """Instructions of each dump callgrind wrote, by the name it was dumped at."""
    found: dict[str, int] = {}
    for path in sorted(directory.glob("callgrind.out.*")):
        text = path.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.M)
        total = re.search(r"^totals: (\d+)", text, re.M)  # summary: may wrap below zero
        if trigger and total:
            found[trigger.group(1)] = int(total.group(1))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="requests counted per scenario")
    parser.add_argument("--posts", type=int, default=20_000, help="posts to seed")
    parser.add_argument("--native", action="store_true", help="no valgrind: wall time only")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--keep", help="a folder to copy callgrind's files to")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--shim", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(Path(args.child), args.n, args.shim, args.only)
        return 0

    from app.core.security import hash_password
    from bench import seed

    with tempfile.TemporaryDirectory(prefix="quill-instr-") as tmp:
        workdir = Path(tmp)
        with seed.scratch_database(None, workdir) as url:
            seed.seed(url, hash_password(seed.PASSWORD), posts=args.posts)
            db = Path(str(url.database))
            command = [sys.executable, __file__, "--child", str(db), "-n", str(args.n)]
            command += ["--only", args.only] if args.only else []
            if args.native:
                subprocess.run(command, check=True)
                return 0
            library = shim(workdir)
            out = workdir / "callgrind"
            out.mkdir()
            valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
            valgrind += [f"--callgrind-out-file={out}/callgrind.out.%p", "-q"]
            subprocess.run([*valgrind, *command, "--shim", str(library)], check=True)
            print(f"\ninstructions per request (callgrind, N={args.n}, after {WARMUP} warm-up):")
            counted = totals(out)
            if args.keep:
                shutil.copytree(out, args.keep, dirs_exist_ok=True)
            for name, _, _, _, _ in scenarios():
                key = name.replace(" ", "_").replace("/", "")
                if key in counted:
                    print(f"  {name:<16} {counted[key] / args.n:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
