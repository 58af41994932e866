"""Pure ASGI middleware: request id, timing, security headers, request log, 500 boundary.

One class does all of it so each request pays for one extra ASGI layer, not four; it wraps
`send` only to add headers and never buffers a body, so streaming responses stream. The request
log line is handed to `RequestLog`, which only appends it to a deque (see app.logs).
"""

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import RequestLog

logger = logging.getLogger("quill.errors")

# An incoming id is echoed only if it is short and plain, so it cannot inject into logs/headers.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SAFE_REQUEST_ID.fullmatch(candidate) else None
    return None


def _error_body(code: str, message: str, request_id: str) -> bytes:
    return json.dumps(
        {"success": False, "code": code, "message": message, "request_id": request_id}
    ).encode()


def _is_plain_413(message: Message) -> bool:
    # Starlette's body limiter answers a declared Content-Length over the limit with its own
    # text/plain 413; everything else in the app already speaks the envelope.
    if message["status"] != 413:
        return False
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/plain")
        for name, value in message.get("headers", [])
    )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, request_log: RequestLog | None = None) -> None:
        self.app = app
        self.request_log = request_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        response_started = False
        replacement: bytes | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started, replacement
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                elapsed_ms = (time.perf_counter() - start) * 1000
                headers: list[Any] = list(message.get("headers", []))
                if _is_plain_413(message):
                    replacement = _error_body(
                        "PAYLOAD_TOO_LARGE", "Request body is too large", request_id
                    )
                    headers = [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(replacement)).encode()),
                    ]
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-process-time", f"{elapsed_ms:.2f}ms".encode()))
                headers.append((b"server-timing", f"app;dur={elapsed_ms:.2f}".encode()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            elif message["type"] == "http.response.body" and replacement is not None:
                body, replacement = replacement, b""
                if not body:
                    return
                message = {"type": "http.response.body", "body": body}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # The traceback goes to the server log, tied to the request id; the client gets
            # the envelope and nothing of the exception.
            logger.exception("unhandled error (request %s)", request_id)
            if response_started:
                raise
            await send_wrapper(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": _error_body("INTERNAL_ERROR", "Internal server error", request_id),
                }
            )
        finally:
            if self.request_log is not None:
                self.request_log.record(
                    scope["method"],
                    scope["path"],
                    status,
                    round((time.perf_counter() - start) * 1000),
                )
