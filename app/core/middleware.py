"""RequestContextMiddleware: what every request goes through, in one pure ASGI layer.

Its jobs, each a small function below: give the request an id (`request_id_for`), choose what
serves it (`choose_app`: CORS only when there is an Origin, a refusal for a foreign Host), add the
response headers (`response_headers`), re-word the framework's own text/plain errors into the
envelope (`plain_error`), answer 500 without leaking the exception (`answer_500`), answer HEAD
wherever GET is answered (`head_as_get`), put the request id in the log context
(app.core.logging), note the request in requests.log and, with METRICS_ENABLED, hand it to
the metrics (`observe`, app.core.metrics: route template, status, seconds).

Every error answer a browser on an allowed origin may read carries the CORS headers: a rewritten
error keeps the headers CORSMiddleware added, and the 500 for an exception goes out through
CORSMiddleware too.

One class does all of it so each request pays for one extra ASGI layer, not five; it wraps
`send` only to add headers and never buffers a body, so streaming responses stream. The request
log line is handed to `RequestLog`, which only appends it to a deque (see app.core.logs).
"""

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import ERROR_TABLE, HTTP_CODES, InvalidHostError, error_json
from app.core.hosts import AllowedHosts, relative_location
from app.core.logging import request_id_var
from app.core.logs import RequestLog

logger = logging.getLogger("quill.errors")

# An incoming id is echoed only if it is short and plain, so it cannot inject into logs/headers.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
_VARY_ORIGIN = (b"vary", b"Origin")
# Called as each request ends: method, the scope routing filled in, status, seconds.
RequestObserver = Callable[[str, Scope, int, float], None]
_JSON_500: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [(b"content-type", b"application/json")],
}


def _read_headers(scope: Scope) -> tuple[str | None, bool, bytes | None]:
    """The request's own sane X-Request-ID, if any, whether it has an Origin header, and Host."""
    request_id: str | None = None
    has_origin = False
    host: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"origin":
            has_origin = True
        elif name == b"host":
            host = value
        elif name == b"x-request-id" and request_id is None:
            candidate = value.decode("latin-1")
            request_id = candidate if _SAFE_REQUEST_ID.fullmatch(candidate) else ""
    return request_id or None, has_origin, host


def request_id_for(incoming: str | None) -> str:
    """The client's sane id, else a new one: 32 hex digits like uuid4().hex, but cheaper."""
    return incoming or os.urandom(16).hex()


def _json_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]


_BODY_HEADERS = frozenset((b"content-type", b"content-length"))


def _with_json_body(headers: list[Any], body: bytes) -> list[Any]:
    """`headers` describing `body` instead: the others (CORS, Content-Range, Vary) stay."""
    kept = [header for header in headers if header[0].lower() not in _BODY_HEADERS]
    return _json_headers(body) + kept


async def _reject_host(scope: Scope, _receive: Receive, send: Send) -> None:
    status, code = ERROR_TABLE[InvalidHostError]
    body = error_json(code, InvalidHostError.message, scope["state"]["request_id"])
    await send({"type": "http.response.start", "status": status, "headers": _json_headers(body)})
    await send({"type": "http.response.body", "body": body})


def plain_error(message: Message, request_id: str) -> bytes | None:
    """The envelope to send instead of the body of a framework's text/plain error, or None.

    Starlette answers a few failures itself, in text/plain: the body limiter's 413 for a declared
    Content-Length, FileResponse's 400/416 for a bad Range. The contract wants one shape for
    every error, so those are re-worded here, in the one place all pass.
    """
    status: int = message["status"]
    if status < 400:
        return None
    if not any(
        name.lower() == b"content-type" and value.startswith(b"text/plain")
        for name, value in message.get("headers", [])
    ):
        return None
    phrase = HTTPStatus(status)
    return error_json(HTTP_CODES.get(status, phrase.name), phrase.phrase, request_id)


def _vary_origin(headers: list[Any]) -> list[Any]:
    """What CORSMiddleware does to the answer to a request without Origin: one Vary header that
    ends with Origin, so that caches keep it apart from answers to cross-origin requests."""
    values = [value for name, value in headers if name.lower() == b"vary"]
    kept = [header for header in headers if header[0].lower() != b"vary"]
    kept.append((b"vary", b", ".join([*values, b"Origin"])))
    return kept


def response_headers(
    headers: list[Any], *, request_id: str, elapsed_ms: str, vary_origin: bool
) -> list[Any]:
    """`headers` plus the request id, the timing, the security headers a route did not set, and
    (for a request without Origin, when CORS is on) `Vary: Origin`."""
    present = {name.lower() for name, _ in headers}
    if vary_origin:
        if b"vary" in present:
            headers = _vary_origin(headers)
        else:
            headers.append(_VARY_ORIGIN)
    headers += (
        (b"x-request-id", request_id.encode()),
        (b"x-process-time", f"{elapsed_ms}ms".encode()),
        (b"server-timing", f"app;dur={elapsed_ms}".encode()),
    )
    if present.isdisjoint(_SECURITY_NAMES):
        headers += SECURITY_HEADERS
    else:
        headers += (h for h in SECURITY_HEADERS if h[0] not in present)
    return headers


async def answer_500(send: Send, request_id: str) -> None:
    """The client gets the envelope and nothing of the exception (the caller logged it)."""
    await send(dict(_JSON_500))
    body = error_json("INTERNAL_ERROR", "Internal server error", request_id)
    await send({"type": "http.response.body", "body": body})


async def _answer_500_app(scope: Scope, _receive: Receive, send: Send) -> None:
    await answer_500(send, scope["state"]["request_id"])


def head_as_get(scope: Scope) -> Scope:
    """A HEAD request served as the GET it asks about (FastAPI routes GET only); the caller sends
    the headers and drops the body, so HEAD works wherever GET does."""
    return {**scope, "method": "GET"}


class RequestContextMiddleware:
    """`cors`: CORSMiddleware's options. Only requests with an Origin header go through it:
    for the others (probes, other servers, same-origin pages) it would parse the headers and wrap
    `send` only to add `Vary: Origin`, which `response_headers` does itself, for far less.
    """

    def __init__(
        self,
        app: ASGIApp,
        request_log: RequestLog | None = None,
        cors: dict[str, Any] | None = None,
        allowed_hosts: Iterable[str] = ("*",),
        observe: RequestObserver | None = None,
    ) -> None:
        self.app = app
        self.request_log = request_log
        self.observe = observe
        self.cors_app: ASGIApp | None = CORSMiddleware(app, **cors) if cors is not None else None
        self.allowed_hosts = AllowedHosts(allowed_hosts)
        # A browser on an allowed origin can read why its request was refused.
        self.cors_reject: ASGIApp = (
            CORSMiddleware(_reject_host, **cors) if cors is not None else _reject_host
        )
        self.cors_500: ASGIApp | None = (
            CORSMiddleware(_answer_500_app, **cors) if cors is not None else None
        )

    def choose_app(self, scope: Scope, *, has_origin: bool, host: bytes | None) -> ASGIApp:
        """What serves this request: the app, the app behind CORS, or the bad-Host refusal."""
        if not self.allowed_hosts.allows(host):
            # A preflight for a foreign host fails outright; other requests may read the error.
            preflight = scope["method"] == "OPTIONS"
            return self.cors_reject if has_origin and not preflight else _reject_host
        if has_origin and self.cors_app is not None:
            return self.cors_app
        return self.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()
        incoming_id, has_origin, host = _read_headers(scope)
        request_id = request_id_for(incoming_id)
        scope.setdefault("state", {})["request_id"] = request_id
        log_context = request_id_var.set(request_id)
        method = scope["method"]
        head = method == "HEAD"
        if head:
            scope = head_as_get(scope)
        vary_origin = self.cors_app is not None and not has_origin
        status = 500
        response_started = False
        replacement: bytes | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started, replacement
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers: list[Any] = list(message.get("headers", ()))
                if 300 <= status < 400:
                    headers = relative_location(headers, host)
                replacement = plain_error(message, request_id)
                if replacement is not None:
                    headers = _with_json_body(headers, replacement)
                message["headers"] = response_headers(
                    headers,
                    request_id=request_id,
                    elapsed_ms=f"{(time.perf_counter() - start) * 1000:.2f}",
                    vary_origin=vary_origin,
                )
            elif message["type"] == "http.response.body" and replacement is not None:
                body, replacement = replacement, b""
                if not body:
                    return
                message = {"type": "http.response.body", "body": body}
            if head and message["type"] == "http.response.body":
                message = {"type": message["type"], "more_body": message.get("more_body", False)}
            await send(message)

        app = self.choose_app(scope, has_origin=has_origin, host=host)
        try:
            await app(scope, receive, send_wrapper)
        except Exception:
            # The traceback goes to the server log, tied to the request id.
            logger.exception("unhandled error (request %s)", request_id)
            if response_started:
                raise
            if has_origin and self.cors_500 is not None:
                await self.cors_500(scope, receive, send_wrapper)
            else:
                await answer_500(send_wrapper, request_id)
        finally:
            request_id_var.reset(log_context)
            elapsed = time.perf_counter() - start
            if self.request_log is not None:
                self.request_log.record(method, scope["path"], status, round(elapsed * 1000))
            if self.observe is not None:
                self.observe(method, scope, status, elapsed)
