"""Conditional, cacheable public reads: `ETag`, `If-None-Match` → 304, `Cache-Control`, `Vary`.

A router opts in with `APIRouter(..., route_class=PublicReadRoute)`: each of its GET routes then
answers a strong ETag over the exact bytes of its 200 body (so any change to what the answer shows
— a post, its comments, its author's name or avatar — changes it, and no extra statement runs),
a 304 with no body when `If-None-Match` matches, and the cache headers below. The route class also
documents the 304 and these headers in the OpenAPI schema, so a route file changes by one keyword.

Why not a library: Starlette's FileResponse does conditional GET for files only, and the usual
ETag middlewares buffer every answer of the app; this is per route, after FastAPI has serialised
the answer on its fast path, with RFC 9110's comparison rules (weak comparison, lists, `*`).

Anonymous reads of routes that need no credentials go through the change counter instead
(app/api/page_cache.py): their ETag is a hash of the public version marker and the URL, checked
before the handler runs, and their 200s are kept in a bounded per-process cache keyed by both.
Either way the ETag is strong: the same marker and URL always answer the same bytes.
"""

import base64
import hashlib
import re
from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.api import page_cache
from app.core.config import Settings
from app.posts.changes import Marker

# The credentials a request may carry (app.api.deps): with either, the answer may be one only
# that caller sees (an author reads their draft at the same URL), so it is kept out of shared
# caches, and every answer says the credentials select it.
CREDENTIAL_HEADERS = ("authorization", "x-api-key")
VARY = "Authorization, X-API-Key"
# `no-cache`: a browser may keep it but asks again (a cheap 304) before using it, so an author
# sees their own edit at once.
PRIVATE = "private, no-cache"

# An entity-tag in an If-None-Match list: optional weak prefix, then the quoted opaque tag.
_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')

_HEADER = {"schema": {"type": "string"}}
CACHE_HEADERS_DOC: dict[str, Any] = {
    "ETag": {
        **_HEADER,
        "description": "Strong validator of this answer: send it in `If-None-Match` for a 304",
    },
    "Cache-Control": {
        **_HEADER,
        "description": "`public, max-age=<PUBLIC_CACHE_SECONDS>` without credentials, "
        "`private, no-cache` with them (the answer may be one only that caller sees)",
    },
    "Vary": {**_HEADER, "description": "`Authorization, X-API-Key` (and `Origin`)"},
}
NOT_MODIFIED_DOC: dict[str, Any] = {
    "description": "Not Modified: `If-None-Match` names this answer's ETag (or is `*`). No "
    "body; the `ETag`, `Cache-Control` and `Vary` headers are those of the 200.",
    "headers": CACHE_HEADERS_DOC,
}


def etag_of(body: bytes) -> str:
    """A strong ETag for these exact bytes: the same on every worker and host."""
    digest = hashlib.sha256(body).digest()[:16]
    return '"' + base64.urlsafe_b64encode(digest).rstrip(b"=").decode() + '"'


def none_match(header: str | None, etag: str) -> bool:
    """Whether `If-None-Match: header` matches `etag` (RFC 9110 13.1.2: `*`, or any tag of the
    list under weak comparison, where `W/"x"` and `"x"` are the same)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(f'"{tag}"' == wanted for tag in _ENTITY_TAG.findall(header))


def carries_credentials(request: Request) -> bool:
    return any(request.headers.get(name) for name in CREDENTIAL_HEADERS)


def cache_headers(request: Request, etag: str) -> dict[str, str]:
    """The headers a 200 and its 304 share."""
    if carries_credentials(request):
        control = PRIVATE
    else:
        seconds = cast(Settings, request.app.state.settings).public_cache_seconds
        control = f"public, max-age={seconds}"
    return {"ETag": etag, "Cache-Control": control, "Vary": VARY}


def matches(request: Request, etag: str) -> bool:
    return none_match(request.headers.get("if-none-match"), etag)


def not_modified(headers: dict[str, str], response: Response | None = None) -> Response:
    """A 304: no body, no Content-Type or Content-Length, the 200's validator and cache headers
    (RFC 9110 15.4.5); background work of the answer it replaces still runs."""
    answer = Response(status_code=304, headers=headers)
    if response is not None:
        answer.background = response.background
    return answer


def conditional(request: Request, response: Response) -> Response:
    """`response` with its ETag and cache headers, or the 304 that replaces it."""
    body = getattr(response, "body", None)
    if response.status_code != 200 or not isinstance(body, bytes):
        return response  # errors and streams are answered as they are
    headers = cache_headers(request, etag_of(body))
    if matches(request, headers["ETag"]):
        return not_modified(headers, response)
    vary = response.headers.get("vary")
    response.headers.update(headers)
    if vary:
        response.headers["Vary"] = f"{vary}, {VARY}"
    return response


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def versioned_headers(request: Request, marker: Marker) -> dict[str, str]:
    """The cache headers of an anonymous public read at `marker`."""
    return cache_headers(request, etag_of(page_cache.versioned_seed(request, marker)))


def keep(request: Request, response: Response, headers: dict[str, str], marker: Marker) -> Response:
    """`response` with `headers`, its 200 kept in the page cache under the URL and `marker`."""
    body = getattr(response, "body", None)
    if response.status_code != 200 or not isinstance(body, bytes) or response.background:
        return response  # errors, streams and answers with work left are not kept
    vary = response.headers.get("vary")
    response.headers.update(headers)
    if vary:
        response.headers["Vary"] = f"{vary}, {VARY}"
    scope = request.scope
    page = page_cache.Page(
        marker=marker,
        body=body,
        headers=tuple(response.raw_headers),
        etag=headers["ETag"],
        not_modified=tuple(not_modified(headers).raw_headers),
        route=scope.get("route"),
    )
    page_cache.pages_of(request.app).put(page_cache.url_key(scope, page_cache.host_of(scope)), page)
    return response


async def versioned(request: Request, handler: Handler) -> Response:
    """An anonymous public read: 304 or a cached page after one statement, else rendered and
    kept (app/api/page_cache.py; app/api/public_pages.py answers most hits before routing)."""
    scope = request.scope
    marker = scope.pop(page_cache.MARKER_KEY, None)
    if marker is None:
        marker = await page_cache.read_marker(request.app)
    headers = versioned_headers(request, marker)
    if matches(request, headers["ETag"]):
        return not_modified(headers)
    url = page_cache.url_key(scope, page_cache.host_of(scope))
    cached = page_cache.pages_of(request.app).get(url, marker)
    if cached is not None:
        response = Response(content=cached.body)
        response.raw_headers = list(cached.headers)
        return response
    return keep(request, await handler(request), headers, marker)


class PublicReadRoute(APIRoute):
    """An APIRoute whose GET answers are conditional and cacheable (see the module docstring);
    other methods are left as they are."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ()}
        if "GET" in methods:
            responses = dict(kwargs.get("responses") or {})
            status = str(kwargs.get("status_code") or 200)
            ok = dict(responses.pop(status, None) or responses.pop(int(status), None) or {})
            ok["headers"] = {**CACHE_HEADERS_DOC, **ok.get("headers", {})}
            responses[int(status)] = ok
            responses[304] = NOT_MODIFIED_DOC
            kwargs["responses"] = responses
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if "GET" not in (self.methods or ()):
            return handler
        public = not page_cache.requires_user(self.dependant)

        async def conditional_handler(request: Request) -> Response:
            if public and not carries_credentials(request):
                return await versioned(request, handler)
            return conditional(request, await handler(request))

        return conditional_handler
