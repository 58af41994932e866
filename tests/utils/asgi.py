"""Requests through an ASGI app as a server would make them, and their answers as it would
receive them (raw headers, in order)."""

import asyncio
from typing import Any

from fastapi import FastAPI

# Differ on every answer by design.
VARYING = {b"x-request-id", b"x-process-time", b"server-timing"}


def raw_get(app: FastAPI, url: str, *headers: tuple[bytes, bytes]) -> tuple[int, list[Any], bytes]:
    """One GET through the ASGI app, answered as the server would receive it (raw headers)."""
    path, _, query = url.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
        "root_path": "", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "headers": [(b"host", b"testserver"), *headers],
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], sent[0]["headers"], body


def steady(headers: list[Any]) -> list[Any]:
    return [(name, b"" if name in VARYING else value) for name, value in headers]
