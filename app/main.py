"""create_app(settings): the app's objects (database, storage, mailer, jobs) onto app.state, then
middleware, exception handlers and routers. Wiring only.

`app` (what `uvicorn app.main:app` serves) is built on first access from the process settings,
not at import: importing create_app builds nothing.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version as package_version

from anyio import to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api import docs, documented, page_cache
from app.api import metrics as metrics_route
from app.api.documented import document_every_answer_headers
from app.api.list_lane import ListLane
from app.api.public_pages import PublicPageMiddleware
from app.api.routes import health, router_modules
from app.api.routes import posts as posts_routes
from app.core import errors, metrics
from app.core.config import Settings, get_settings
from app.core.database import THREADPOOL_SIZE, Database
from app.core.logging import configure_logging
from app.core.logs import RequestLog
from app.core.mail import Mailer
from app.core.middleware import RequestContextMiddleware
from app.core.proxies import TrustedProxyMiddleware
from app.core.ratelimit import RateLimiter, RateLimitMiddleware
from app.core.runtime import settle_gc
from app.core.security import configure_hashing
from app.jobs.queue import jobs_for
from app.uploads.backends import storage_from_settings
from app.uploads.storage import Storage, configure_urls

logger = logging.getLogger("quill.main")

TAGS = [
    {"name": "health", "description": "Liveness and readiness probes, and the API banner."},
    {
        "name": "auth",
        "description": "Accounts and sessions: register, log in, refresh, log out, "
        "password reset and email verification. Every route here counts against the caller's "
        "address (`RATE_LIMIT_AUTH`, default 10 a minute): over it, `429 RATE_LIMITED` with "
        "`Retry-After`.",
    },
    {
        "name": "users",
        "description": "Your profile, password, avatar and API keys; other users' public profiles.",
    },
    {"name": "posts", "description": "Write, publish, read and change posts and their covers."},
    {"name": "feed", "description": "The Atom feed of the newest published posts."},
    {
        "name": "uploads",
        "description": "Store images and PDFs, list and delete your files. Uploads (here, and "
        "avatars and covers) count against the caller's address (`RATE_LIMIT_UPLOADS`, default "
        "30 a minute): over it, `429 RATE_LIMITED` with `Retry-After`.",
    },
    {"name": "files", "description": "The stored bytes, served so a browser never runs them."},
]

DESCRIPTION = """
REST backend for blogs. Every non-2xx answer has one shape, `ErrorResponse`: switch on `code`.
Authenticate with `Authorization: Bearer <token>` (the Authorize button) or `X-API-Key`.
"""


def operation_id(route: APIRoute) -> str:
    # `users-read_me` rather than FastAPI's `read_me_users_me_get`: readable in generated clients.
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def sweep_temporaries(storage: Storage) -> None:
    """Delete upload temporaries a crashed process left (see STALE_TEMP_SECONDS)."""
    try:
        removed = storage.purge_temp()
    except OSError:
        logger.exception("could not sweep upload temporaries")
        return
    if removed:
        logger.info("swept %d stale upload temporaries", removed)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    storage: Storage | None = None,
) -> FastAPI:
    """An app for `settings` (by default the process's, get_settings()).

    `database` and `storage` may be handed over (tests share one engine across apps); one the app
    builds itself it also disposes of at shutdown.
    """
    settings = settings or get_settings()
    owns_database = database is None
    database = database or Database.from_settings(settings)
    storage = storage or storage_from_settings(settings)
    configure_urls(settings.public_base_url, settings.files_public_base_url, storage.key(""))
    configure_hashing(settings.hash_concurrency)
    request_log = RequestLog(settings.request_log_file)
    limiter = RateLimiter(settings.redis_url, key_prefix=settings.rate_limit_key_prefix)
    # Off: no series, no observer, no /metrics route; the process never imports the library.
    counting = metrics.enable() if settings.metrics_enabled else None
    if counting is not None:
        counting.instrument_pool(database.engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints and dependencies run on anyio's default thread limiter; it must match
        # the connection pool (app.core.database), not whatever anyio's default happens to be.
        to_thread.current_default_thread_limiter().total_tokens = THREADPOOL_SIZE
        settle_gc()
        await to_thread.run_sync(sweep_temporaries, storage)
        health.schema_head()  # read the migration scripts now, not on the first /ready
        request_log.start()
        try:
            yield
        finally:
            request_log.stop()
            if counting is not None:
                counting.process_stopped()
            if owns_database:
                database.dispose()

    app = FastAPI(
        title="Quill",
        generate_unique_id_function=operation_id,
        version=package_version("quill"),
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served from this machine by app.api.docs, not from a CDN
        redoc_url=None,
        # Any route can fail unexpectedly: the 500 is documented once, here. Each route adds
        # the statuses it can really answer (app/api/documented.py).
        responses=errors.documented(500),
    )
    # What dependencies (app.api.deps) hand to routes: read from the request's app, so two apps
    # in one process (tests) never share them by accident.
    app.state.settings = settings
    app.state.database = database
    app.state.public_marker = page_cache.marker_source(database)
    app.state.storage = storage
    app.state.mailer = Mailer(settings)
    app.state.jobs = jobs_for(settings, app.state.mailer)
    errors.install_handlers(app)

    # Innermost of ours: a kept public page goes out before routing, with every header the
    # layers outside give any answer (app/api/public_pages.py).
    app.add_middleware(PublicPageMiddleware)
    # It counts by the client address TrustedProxyMiddleware believed, and its 429 gets the
    # request id and headers of RequestContextMiddleware.
    app.add_middleware(
        RateLimitMiddleware, limiter=limiter, settings=settings, limits=documented.RATE_LIMITS
    )
    if settings.forwarded_allow_ips:
        # Inside RequestContextMiddleware: its 500 boundary covers this too.
        app.add_middleware(TrustedProxyMiddleware, trusted=settings.forwarded_allow_ips)

    # Outermost: even CORS preflights and 500s get the request id and headers. CORS itself runs
    # inside it, for the requests that have an Origin header.
    app.add_middleware(
        RequestContextMiddleware,
        request_log=request_log,
        allowed_hosts=settings.allowed_hosts,
        observe=counting.observe_request if counting is not None else None,
        cors={
            "allow_origins": settings.cors_origins,
            "allow_credentials": True,
            "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            "allow_headers": settings.cors_allow_headers,
            # ETag: a page's script may keep it and send it back in If-None-Match itself.
            "expose_headers": [
                "X-Request-ID",
                "X-Process-Time",
                "Server-Timing",
                "Retry-After",
                "ETag",
            ],
        },
    )

    # The body limit is set per router, not on the app: the app-level limiter answers outside
    # our middleware, without the envelope or the request id. Upload routes set a larger one.
    # Every module of app/api/routes, busiest first: FastAPI tries each
    # included router in turn, and the public reads should not pay for matching account routes.
    for module in router_modules():
        app.include_router(module.router, max_body_size=settings.max_json_body_bytes)
    # Anonymous GET /posts misses, answered before routing by the route's own parts.
    app.state.list_lane = ListLane.of(posts_routes.router)
    docs.install(app)
    if counting is not None:
        metrics_route.install(app, counting, settings.metrics_token)
    document_every_answer_headers(app)
    return app


_served: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    # PEP 562: `app.main:app` for uvicorn (every worker imports it), built once per process.
    global _served
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _served is None:
        # The process's own app (not a test's): its log is configured here too, for
        # `uvicorn app.main:app` run without the CLI.
        settings = get_settings()
        configure_logging(settings)
        _served = create_app(settings)
    return _served
