"""PublicPageMiddleware: a kept page (app/api/page_cache.py) or its 304, answered before routing.

A repeated anonymous read of a public URL would otherwise go through the exception middleware,
the router's matching of every route before it, the route's request wrapper and body limiter,
only to read the marker and send bytes already kept. This pure ASGI layer does the same checks
with what the scope already holds: a GET, no credentials, a URL whose page this process kept.
Then it reads the marker (the one statement every such request pays, so a write through any
worker is seen), and answers the kept page, or its 304, with the very headers the route gave
them. Anything else goes on to the route unchanged (with the marker read, so a miss reads it
once); so does a request whose marker read fails, for the route to answer as it always has.

Installed innermost of Quill's middleware: the request id, security, CORS and Vary headers of
RequestContextMiddleware, the client address and scheme of TrustedProxyMiddleware and the
rate limits apply to these answers as to every other.
"""

from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api import page_cache
from app.api.caching import none_match

# app.api.caching.CREDENTIAL_HEADERS, as the ASGI scope spells them.
_CREDENTIALS = (b"authorization", b"x-api-key")


def _read_headers(scope: Scope) -> tuple[bytes | None, bool, bytes | None]:
    """Host, whether the request carries credentials, and If-None-Match: the first of each, as
    Starlette's Headers.get would find them."""
    host: bytes | None = None
    if_none_match: bytes | None = None
    credentials = False
    seen: list[bytes] = []
    for name, value in scope["headers"]:
        if name == b"host":
            if host is None:
                host = value
        elif name in _CREDENTIALS:
            if name not in seen:
                seen.append(name)
                credentials = credentials or bool(value)
        elif name == b"if-none-match" and if_none_match is None:
            if_none_match = value
    return host, credentials, if_none_match


class PublicPageMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        fastapi_app: Any = scope["app"]
        pages = page_cache.pages_of(fastapi_app)
        if not pages.pages:
            await self.app(scope, receive, send)
            return
        host, credentials, if_none_match = _read_headers(scope)
        url = page_cache.url_key(scope, host)
        if credentials or not pages.known(url):
            await self.app(scope, receive, send)
            return
        try:
            marker = await page_cache.read_marker(fastapi_app)
        except SQLAlchemyError:
            await self.app(scope, receive, send)
            return
        page = pages.get(url, marker)
        if page is None:
            scope[page_cache.MARKER_KEY] = marker
            await self.app(scope, receive, send)
            return
        if page.route is not None:
            scope["route"] = page.route
        if if_none_match is not None and none_match(if_none_match.decode("latin-1"), page.etag):
            status, headers, body = 304, page.not_modified, b""
        else:
            status, headers, body = 200, page.headers, page.body
        # Fresh lists: the layers outside add to the headers of the message they are given.
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})
