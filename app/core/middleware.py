"""Pure ASGI middleware: request id, timing, security headers, CORS, allowed hosts, request log,
500 boundary; and the trusted-proxy wrapper.

One class does all of it so each request pays for one extra ASGI layer, not five; it wraps
`send` only to add headers and never buffers a body, so streaming responses stream. The request
log line is handed to `RequestLog`, which only appends it to a deque (see app.core.logs).
"""

import ipaddress
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.core.errors import ERROR_TABLE, HTTP_CODES, InvalidHostError
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


class AllowedHosts:
    """ALLOWED_HOSTS: exact names, `*.example.com` for its subdomains, or `*` for any."""

    def __init__(self, patterns: Iterable[str]) -> None:
        names = {p.strip().lower().rstrip(".") for p in patterns if p.strip()}
        self.any = "*" in names
        self.suffixes = tuple(name[1:] for name in names if name.startswith("*."))
        self.exact = frozenset(name.strip("[]") for name in names if not name.startswith("*."))

    def allows(self, host_header: bytes | None) -> bool:
        if self.any:
            return True
        if not host_header:
            return False
        host = host_header.decode("latin-1").lower()
        if host.startswith("["):  # [::1]:8000
            host = host[1 : host.find("]")] if "]" in host else host
        elif ":" in host:
            host = host.rsplit(":", 1)[0]
        host = host.rstrip(".")
        return host in self.exact or host.endswith(self.suffixes)


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


def _relative_location(headers: list[Any], host: bytes | None) -> list[Any]:
    """Starlette builds redirects (the trailing-slash one) from the request's Host header; a
    redirect to our own host needs no host at all, so none taken from a request is ever sent."""
    kept = []
    for name, value in headers:
        if (
            name.lower() == b"location"
            and host
            and value[:8].lower().startswith((b"http://", b"https://"))
        ):
            parts = urlsplit(value.decode("latin-1"))
            if parts.netloc.encode("latin-1").lower() == host.lower():
                # `//evil.example` (from GET //evil.example/) would be a protocol-relative URL
                # to another host; browsers read `/\` as `//` too.
                path = "/" + parts.path.lstrip("/\\")
                value = (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")
        kept.append((name, value))
    return kept


async def _reject_host(scope: Scope, _receive: Receive, send: Send) -> None:
    status, code = ERROR_TABLE[InvalidHostError]
    body = _error_body(code, InvalidHostError.message, scope["state"]["request_id"])
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error_body(code: str, message: str, request_id: str) -> bytes:
    return json.dumps(
        {"success": False, "code": code, "message": message, "request_id": request_id}
    ).encode()


def _plain_error(message: Message) -> bool:
    # Starlette answers a few failures itself, in text/plain: the body limiter's 413 for a declared
    # Content-Length, FileResponse's 400/416 for a bad Range. The contract wants one shape for
    # every error, so those are re-worded into the envelope here, in the one place all pass.
    if message["status"] < 400:
        return False
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/plain")
        for name, value in message.get("headers", [])
    )


def _vary_origin(headers: list[Any]) -> list[Any]:
    """What CORSMiddleware does to the answer to a request without Origin: one Vary header that
    ends with Origin, so that caches keep it apart from answers to cross-origin requests."""
    values = [value for name, value in headers if name.lower() == b"vary"]
    kept = [header for header in headers if header[0].lower() != b"vary"]
    kept.append((b"vary", b", ".join([*values, b"Origin"])))
    return kept


class RequestContextMiddleware:
    """`cors`: CORSMiddleware's options. Only requests with an Origin header go through it:
    for the others (probes, other servers, same-origin pages) it would parse the headers and wrap
    `send` only to add `Vary: Origin`, which this does itself, for a twentieth of /health's cost.
    """

    def __init__(
        self,
        app: ASGIApp,
        request_log: RequestLog | None = None,
        cors: dict[str, Any] | None = None,
        allowed_hosts: Iterable[str] = ("*",),
    ) -> None:
        self.app = app
        self.request_log = request_log
        self.cors_app: ASGIApp | None = CORSMiddleware(app, **cors) if cors is not None else None
        self.allowed_hosts = AllowedHosts(allowed_hosts)
        # A browser on an allowed origin can read why its request was refused.
        self.cors_reject: ASGIApp = (
            CORSMiddleware(_reject_host, **cors) if cors is not None else _reject_host
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()
        incoming_id, has_origin, host = _read_headers(scope)
        # 32 hex digits, like uuid4().hex, at a third of the cost.
        request_id = incoming_id or os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        vary_origin = self.cors_app is not None and not has_origin
        status = 500
        response_started = False
        replacement: bytes | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started, replacement
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                elapsed = f"{(time.perf_counter() - start) * 1000:.2f}"
                headers: list[Any] = list(message.get("headers", ()))
                if 300 <= status < 400:
                    headers = _relative_location(headers, host)
                if _plain_error(message):
                    replacement = _error_body(
                        HTTP_CODES.get(status, HTTPStatus(status).name),
                        HTTPStatus(status).phrase,
                        request_id,
                    )
                    headers = [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(replacement)).encode()),
                    ]
                present = {name.lower() for name, _ in headers}
                if vary_origin:
                    if b"vary" in present:
                        headers = _vary_origin(headers)
                    else:
                        headers.append(_VARY_ORIGIN)
                headers += (
                    (b"x-request-id", request_id.encode()),
                    (b"x-process-time", f"{elapsed}ms".encode()),
                    (b"server-timing", f"app;dur={elapsed}".encode()),
                )
                if present.isdisjoint(_SECURITY_NAMES):
                    headers += SECURITY_HEADERS
                else:
                    headers += (h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            elif message["type"] == "http.response.body" and replacement is not None:
                body, replacement = replacement, b""
                if not body:
                    return
                message = {"type": "http.response.body", "body": body}
            await send(message)

        app = self.cors_app if has_origin and self.cors_app is not None else self.app
        if not self.allowed_hosts.allows(host):
            # A preflight for a foreign host fails outright; other requests may read the error.
            preflight = scope["method"] == "OPTIONS"
            app = self.cors_reject if has_origin and not preflight else _reject_host
        try:
            await app(scope, receive, send_wrapper)
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


def _valid_ip(host: str) -> str | None:
    """`host` as a plain IP address, or None: nothing else may reach the login log or the
    login_attempts.ip column (VARCHAR(45)), whatever a proxy forwarded."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if getattr(address, "scope_id", None):  # fe80::1%<any length of text>
        return None
    return str(address)


class TrustedProxyMiddleware:
    """uvicorn's ProxyHeadersMiddleware for the FORWARDED_ALLOW_IPS peers only, keeping the
    forwarded client address only when it is a valid IP address (else the client is unknown).

    Installed by create_app rather than by uvicorn, so tests and every server see the same rule.
    """

    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        self.app = app
        self.proxy = ProxyHeadersMiddleware(self._checked, trusted_hosts=trusted)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.proxy(scope, receive, send)  # type: ignore[arg-type]

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if client:
            address = _valid_ip(client[0])
            scope["client"] = (address, client[1]) if address else None
        await self.app(scope, receive, send)
