"""Anonymous public reads answered from the change counter: 304s and a per-process page cache.

An anonymous GET of a public read (app.api.caching.PublicReadRoute) first reads the public
version marker (app/posts/changes.py: one indexed statement). Its ETag is a hash of that marker,
the full URL and the app's version and public base URL, so it changes whenever anything the
answer shows may have changed, and is the same on every worker and host. A matching
`If-None-Match` is answered 304 with no query run. Otherwise the rendered 200 of that URL at
that marker may already be in this process's cache: its bytes are sent again. Otherwise the
handler runs and its answer is kept.

Every worker reads the marker from the database on every request, so a write committed through
one worker is seen by the next read on any other: its marker differs, so its key does too.

Why not a library: HTTP cache middlewares key on time (max-age) or on the response bytes; the
key here is a database value read before the handler, and the cache must never serve a page
rendered before a change that committed since.

Bounds: at most MAX_ENTRIES pages and MAX_BYTES of bodies per app instance; a body larger than
MAX_ENTRY_BYTES is not kept. Least recently used pages go first.
"""

from collections import OrderedDict
from collections.abc import Generator
from contextlib import aclosing, closing
from typing import Any, cast

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from app.api.deps import get_current_user, get_db
from app.core.config import Settings
from app.core.database import Database, for_requests, read_in_thread
from app.posts import changes

MAX_ENTRIES = 512
MAX_BYTES = 32 * 1024 * 1024
MAX_ENTRY_BYTES = 1024 * 1024

Key = tuple[str, changes.Marker]
Page = tuple[bytes, tuple[tuple[bytes, bytes], ...]]


class PageCache:
    """A bounded LRU of rendered 200s: body and raw headers, keyed by (URL, marker)."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
    ) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.pages: OrderedDict[Key, Page] = OrderedDict()
        self.size = 0

    def get(self, key: Key) -> Response | None:
        page = self.pages.get(key)
        if page is None:
            return None
        self.pages.move_to_end(key)
        body, headers = page
        response = Response(content=body)
        response.raw_headers = list(headers)
        return response

    def put(self, key: Key, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        if len(body) > self.max_entry_bytes:
            return
        old = self.pages.pop(key, None)
        if old is not None:
            self.size -= len(old[0])
        self.pages[key] = (body, tuple(headers))
        self.size += len(body)
        while len(self.pages) > self.max_entries or self.size > self.max_bytes:
            _, (dropped, _) = self.pages.popitem(last=False)
            self.size -= len(dropped)


def pages_of(app: FastAPI) -> PageCache:
    """The app's page cache (one per app instance, as one per worker process)."""
    cache: PageCache | None = getattr(app.state, "public_pages", None)
    if cache is None:
        cache = app.state.public_pages = PageCache()
    return cache


def requires_user(dependant: Dependant) -> bool:
    """Whether the route answers only callers with credentials (then it is never versioned)."""
    return any(sub.call is get_current_user or requires_user(sub) for sub in dependant.dependencies)


async def read_marker(request: Request) -> changes.Marker:
    """The public version marker, read through the session the handler would get."""
    override = request.app.dependency_overrides.get(get_db)
    if override is None:
        # A bare connection, not a session: this is the whole cost of a 304 or a cached page.
        engine: Engine | None = getattr(request.app.state, "public_version_engine", None)
        if engine is None:
            database = cast(Database, request.app.state.database)
            engine = request.app.state.public_version_engine = for_requests(database.engine)
        if engine.dialect.name == "sqlite":
            # A WAL reader never waits for writers, and one indexed read of a local file takes
            # less than the hop to a worker thread would; a server's round trip takes more.
            return _read_on(engine)
        return await run_in_threadpool(_read_on, engine)
    # A test lends its own session (tests/conftest.py); read what the handler will read.
    provider: Any = override()
    if isinstance(provider, Generator):
        with closing(provider):
            session = next(provider)
            return await read_in_thread(session, changes.read_marker, session)
    async with aclosing(provider):
        session = await anext(provider)
        return await read_in_thread(session, changes.read_marker, session)


def _read_on(engine: Engine) -> changes.Marker:
    with engine.connect() as conn:
        return changes.read_marker(conn)


def versioned_seed(request: Request, marker: changes.Marker) -> bytes:
    """What the ETag of an anonymous public read is a hash of: the marker, the full URL (the
    feed's links use the host), and what else shapes the bytes (the app's version, its public
    base URL for file links)."""
    settings = cast(Settings, request.app.state.settings)
    parts = (request.app.version, settings.public_base_url or "", *map(str, marker), request.url)
    return "\0".join(map(str, parts)).encode()
