"""GET /posts pages no cache holds, rendered before routing (PublicPageMiddleware calls this).

An anonymous `GET /posts` that misses the page cache runs one statement; FastAPI's routing,
request wrapper, exception and exit-stack layers and dependency solving cost about a quarter of
such a request on top (bench/results/2026-12-07-list-lane.md). The lane skips them for the
requests whose answer it can be sure of, and builds that answer with the route's own parts
(app.api.caching's ETag, 304 and page cache; app.posts.public.list_published), so the two give
the same bytes and headers (tests/api/test_list_lane.py compares them).

It is sure when every parameter the route reads is plainly valid: `page`, `per_page` and
`author_id` canonical decimal integers within the route's bounds, `tag` valid as the route's
TagName (and normalised by it). A `q`, an empty or odd value, a request with a body: the route
answers, and its validation and 422 stay the one answer to bad input. Like FastAPI, the lane
ignores parameters it does not know and reads a repeated one by its last value (Starlette's
QueryParams). A database error is answered by the app's own handler for it (the 503).
"""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send

from app.api import caching, page_cache
from app.api.deps import MAX_ID
from app.core.database import read_in_thread
from app.core.pagination import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE, PageParams
from app.posts import public
from app.posts.changes import Marker
from app.posts.schemas import TagName

PATH = "/posts"
# The route's bounds (app.api.deps.get_page_params, app.api.routes.posts.list_posts).
BOUNDS = {"page": MAX_PAGE, "per_page": MAX_PER_PAGE, "author_id": MAX_ID}
# Integers as a client writes them: no sign, spaces, zeros in front or underscores, which the
# route's validation may read otherwise; those go to the route.
_CANONICAL = re.compile(r"[1-9][0-9]{0,9}")
_TAG: TypeAdapter[str] = TypeAdapter(TagName)


@dataclass(frozen=True, slots=True)
class Listing:
    params: PageParams
    author_id: int | None = None
    tag: str | None = None


def listing(query_string: bytes) -> Listing | None:
    """The list's parameters, or None when the route should answer."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        found[name] = value  # the last one counts
    if "q" in found:
        return None
    numbers: dict[str, int] = {}
    for name, bound in BOUNDS.items():
        text = found.get(name)
        if text is None:
            continue
        if not _CANONICAL.fullmatch(text) or int(text) > bound:
            return None
        numbers[name] = int(text)
    tag = found.get("tag")
    if tag is not None:
        try:
            tag = _TAG.validate_python(tag)
        except ValidationError:
            return None
    params = PageParams(numbers.get("page", 1), numbers.get("per_page", DEFAULT_PER_PAGE))
    return Listing(params, numbers.get("author_id"), tag)


class ListLane:
    """What the lane needs of the app: the GET /posts route, which metrics and the kept page
    name as routing would have."""

    def __init__(self, route: APIRoute) -> None:
        self.route = route

    @classmethod
    def of(cls, router: APIRouter) -> "ListLane":
        """The lane of the GET /posts route of `router` (the one routing puts in the scope)."""
        for route in router.routes:
            if (
                isinstance(route, APIRoute)
                and route.path == PATH
                and "GET" in (route.methods or ())
            ):
                return cls(route)
        raise LookupError(f"no GET {PATH} route in {router!r}")

    async def answer(
        self, scope: Scope, receive: Receive, send: Send, marker: Marker, wanted: Listing
    ) -> None:
        scope["route"] = self.route
        request = Request(scope, receive)
        try:
            response = await self._respond(request, marker, wanted)
        except Exception as exc:
            handler = _handler_for(request.app, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    async def _respond(self, request: Request, marker: Marker, wanted: Listing) -> Response:
        headers = caching.versioned_headers(request, marker)
        if caching.matches(request, headers["ETag"]):
            return caching.not_modified(headers)
        async with page_cache.session_of(request.app) as session:
            body = await read_in_thread(
                session,
                public.list_published,
                session,
                params=wanted.params,
                author_id=wanted.author_id,
                tag=wanted.tag,
            )
        response = Response(body, media_type="application/json")
        return caching.keep(request, response, headers, marker)


def _handler_for(app: FastAPI, exc: Exception) -> Any:
    """The app's exception handler for `exc` (by its classes, nearest first), as Starlette's
    ExceptionMiddleware finds it; the handler of any Exception is not its to use (an unexpected
    error goes on out, to the 500 of the outer layers, as from the route)."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in app.exception_handlers:
            return app.exception_handlers[cls]
    return None
