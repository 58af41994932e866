"""PublicPageMiddleware: a kept page (app/api/page_cache.py) or its 304, answered before routing.

A repeated anonymous read of a public URL would otherwise go through the exception middleware,
the router's matching of every route before it, the route's request wrapper and body limiter,
only to read the marker and send bytes already kept. This pure ASGI layer does the same checks
with what the scope already holds: a GET, no credentials, a URL whose page this process kept.
Then it reads the marker (the one statement every such request pays, so a write through any
worker is seen), and answers the kept page, or its 304, with the very headers the route gave
them. Anything else goes on to the route unchanged (with the marker read, so a miss reads it
once); so does a request whose marker read fails, for the route to answer as it always has.

A GET /posts miss whose parameters are plainly valid is rendered here too, by the route's own
parts (app/api/list_lane.py says when and why).

Installed innermost of Quill's middleware: the request id, security, CORS and Vary headers of
RequestContextMiddleware, the client address and scheme of TrustedProxyMiddleware and the
rate limits apply to these answers as to every other.
"""

from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api import list_lane, page_cache
from app.api.caching import none_match
from app.api.list_lane import ListLane

# app.api.caching.CREDENTIAL_HEADERS, as the ASGI scope spells them.
_CREDENTIALS = (b"authorization", b"x-api-key")


def _read_headers(scope: Scope) -> tuple[bytes | None, bool, bytes | None, bool]:
    """Host, whether the request carries credentials, If-None-Match (the first of each, as
    Starlette's Headers.get would find them), and whether it says it has a body."""
    host: bytes | None = None
    if_none_match: bytes | None = None
    credentials = body = False
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
        elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            body = True
    return host, credentials, if_none_match, body


class PublicPageMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        fastapi_app: Any = scope["app"]
        pages = page_cache.pages_of(fastapi_app)
        listing = scope["path"] == list_lane.PATH
        if not (pages.pages or listing):
            await self.app(scope, receive, send)
            return
        host, credentials, if_none_match, body = _read_headers(scope)
        if credentials:
            await self.app(scope, receive, send)
            return
        url = page_cache.url_key(scope, host)
        lane: ListLane | None = None
        wanted = None
        if not pages.known(url):
            if listing and not body:
                lane = fastapi_app.state.list_lane
                wanted = list_lane.listing(scope["query_string"])
            if lane is None or wanted is None:
                await self.app(scope, receive, send)
                return
        try:
            marker = await page_cache.read_marker(fastapi_app)
        except SQLAlchemyError:
            await self.app(scope, receive, send)
            return
        if lane is not None and wanted is not None:
            await lane.answer(scope, receive, send, marker, wanted)
            return
        page = pages.get(url, marker)
        if page is None:
            scope[page_cache.MARKER_KEY] = marker
            await self.app(scope, receive, send)
            return
        if page.route is not None:
            scope["route"] = page.route
        if if_none_match is not None and none_match(if_none_match.decode("latin-1"), page.etag):
            status, headers, content = 304, page.not_modified, b""
        else:
            status, headers, content = 200, page.headers, page.body
        # Fresh lists: the layers outside add to the headers of the message they are given.
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": content})
