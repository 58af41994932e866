"""Anonymous public reads answered from the change counter: 304s and a per-process page cache.

An anonymous GET of a public read (app.api.caching.PublicReadRoute) first reads the public
version marker (app/posts/changes.py: one indexed statement). Its ETag is a hash of that marker,
the full URL and the app's version and public base URL, so it changes whenever anything the
answer shows may have changed, and is the same on every worker and host. A matching
`If-None-Match` is answered 304 with no query run. Otherwise the rendered 200 of that URL at
that marker may already be in this process's cache: its bytes are sent again. Otherwise the
handler runs and its answer is kept. Once a URL has a kept page, PublicPageMiddleware
(app/api/public_pages.py) answers these before routing; the route does the same for the rest.

Every worker reads the marker from the database on every request, so a write committed through
one worker is seen by the next read on any other: its marker differs, so its key does too.

Why not a library: HTTP cache middlewares key on time (max-age) or on the response bytes; the
key here is a database value read before the handler, and the cache must never serve a page
rendered before a change that committed since.

Bounds: at most MAX_ENTRIES pages and MAX_BYTES of bodies per app instance; a body larger than
MAX_ENTRY_BYTES is not kept. Least recently used pages go first; a URL keeps one page, that of
the newest marker.
"""

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import aclosing, asynccontextmanager, closing
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from app.api.coalesce import Coalesced
from app.api.deps import get_current_user, get_db
from app.core.config import Settings
from app.core.database import Database, for_requests, read_in_thread, release
from app.posts import changes

MAX_ENTRIES = 512
MAX_BYTES = 32 * 1024 * 1024
MAX_ENTRY_BYTES = 1024 * 1024
# Where the marker read for a request travels from PublicPageMiddleware to the route, so a miss
# reads it once.
MARKER_KEY = "quill.public_marker"

# What a URL is kept under: everything Request.url is made of, so one key is one URL.
UrlKey = tuple[Any, ...]
RawHeaders = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered 200 at one marker: its body and raw headers, and the raw headers of the 304
    that replaces it; `route` is what routing put in the scope (the metrics label it)."""

    marker: changes.Marker
    body: bytes
    headers: RawHeaders
    etag: str = ""
    not_modified: RawHeaders = ()
    route: Any = None


class PageCache:
    """A bounded LRU of rendered 200s, one per URL: the page of its newest marker seen (an older
    marker never comes back, so its page could never be served again)."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
    ) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.pages: OrderedDict[UrlKey, Page] = OrderedDict()
        self.size = 0

    def known(self, url: UrlKey) -> bool:
        """Whether a public read of `url` was kept (at some marker): only then is the marker
        worth reading before routing."""
        return url in self.pages

    def get(self, url: UrlKey, marker: changes.Marker) -> Page | None:
        page = self.pages.get(url)
        if page is None or page.marker != marker:
            return None
        self.pages.move_to_end(url)
        return page

    def put(self, url: UrlKey, page: Page) -> None:
        if len(page.body) > self.max_entry_bytes:
            return
        old = self.pages.get(url)
        if old is not None:
            if old.marker > page.marker:
                return  # rendered before a change another request has already kept
            del self.pages[url]
            self.size -= len(old.body)
        self.pages[url] = page
        self.size += len(page.body)
        while len(self.pages) > self.max_entries or self.size > self.max_bytes:
            _, dropped = self.pages.popitem(last=False)
            self.size -= len(dropped.body)


def pages_of(app: FastAPI) -> PageCache:
    """The app's page cache (one per app instance, as one per worker process)."""
    cache: PageCache | None = getattr(app.state, "public_pages", None)
    if cache is None:
        cache = app.state.public_pages = PageCache()
    return cache


def url_key(scope: Scope, host: bytes | None) -> UrlKey:
    """The key of the URL Request.url would build from `scope` (`host`: its Host header)."""
    return (
        scope["scheme"],
        host if host is not None else scope.get("server"),
        scope.get("root_path", ""),
        scope["path"],
        scope["query_string"],
    )


def host_of(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"host":
            return cast(bytes, value)
    return None


def requires_user(dependant: Dependant) -> bool:
    """Whether the route answers only callers with credentials (then it is never versioned)."""
    return any(sub.call is get_current_user or requires_user(sub) for sub in dependant.dependencies)


MarkerSource = Callable[[], Awaitable[changes.Marker]]


def marker_source(database: Database) -> MarkerSource:
    """How read_marker reads the marker when no test lends a session (create_app keeps it on
    app.state): a pooled DBAPI cursor, not a session, as this is the whole cost of a 304 or a
    cached page."""
    reader = changes.MarkerReader(for_requests(database.engine))
    if reader.engine.dialect.name != "sqlite":
        return Coalesced(partial(run_in_threadpool, reader))

    async def local() -> changes.Marker:
        # A WAL reader never waits for writers, and one indexed read of a local file takes less
        # than the hop to a worker thread would; a server's round trip takes more.
        return reader()

    return local


@asynccontextmanager
async def session_of(app: FastAPI) -> AsyncIterator[Session]:
    """The session get_db gives a request of `app`, for code that runs before routing: a new one,
    closed after, or the one a test lends (tests/conftest.py overrides get_db)."""
    override = app.dependency_overrides.get(get_db)
    if override is None:
        session = cast(Database, app.state.database).sessions()
        try:
            yield session
        finally:
            await release(session)
        return
    provider: Any = override()
    if isinstance(provider, Generator):
        with closing(provider):
            yield next(provider)
        return
    async with aclosing(provider):
        yield await anext(provider)


async def read_marker(app: FastAPI) -> changes.Marker:
    """The public version marker, read through the session the handler would get."""
    if app.dependency_overrides.get(get_db) is None:
        source = cast(MarkerSource, app.state.public_marker)
        return await source()
    # A test lends its own session; read what the handler will read.
    async with session_of(app) as session:
        return await read_in_thread(session, changes.read_marker, session)


def versioned_seed(request: Request, marker: changes.Marker) -> bytes:
    """What the ETag of an anonymous public read is a hash of: the marker, the full URL (the
    feed's links use the host), and what else shapes the bytes (the app's version, its public
    base URL for file links)."""
    settings = cast(Settings, request.app.state.settings)
    parts = (request.app.version, settings.public_base_url or "", *map(str, marker), request.url)
    return "\0".join(map(str, parts)).encode()
