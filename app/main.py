"""create_app(): middleware, exception handlers, routers, /files. Wiring only."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api.routes import auth, docs, files, health, posts, uploads, users
from app.core import errors
from app.core.config import Settings, get_settings
from app.core.database import THREADPOOL_SIZE
from app.core.logs import RequestLog
from app.core.middleware import RequestContextMiddleware, TrustedProxyMiddleware
from app.core.runtime import settle_gc
from app.uploads.storage import get_storage

logger = logging.getLogger("quill.main")

DESCRIPTION = """
REST backend for blogs. Every non-2xx answer has one shape, `ErrorResponse`: switch on `code`.
Authenticate with `Authorization: Bearer <token>` (the Authorize button) or `X-API-Key`.
"""


def operation_id(route: APIRoute) -> str:
    # `users-read_me` rather than FastAPI's `read_me_users_me_get`: readable in generated clients.
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def sweep_temporaries() -> None:
    """Delete upload temporaries a crashed process left (see STALE_TEMP_SECONDS)."""
    try:
        removed = get_storage().purge_temp()
    except OSError:
        logger.exception("could not sweep upload temporaries")
        return
    if removed:
        logger.info("swept %d stale upload temporaries", removed)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    request_log = RequestLog(settings.request_log_file)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints and dependencies run on anyio's default thread limiter; it must match
        # the connection pool (app.core.database), not whatever anyio's default happens to be.
        to_thread.current_default_thread_limiter().total_tokens = THREADPOOL_SIZE
        settle_gc()
        await to_thread.run_sync(sweep_temporaries)
        health.schema_head()  # read the migration scripts now, not on the first /ready
        request_log.start()
        try:
            yield
        finally:
            request_log.stop()

    app = FastAPI(
        title="Quill",
        generate_unique_id_function=operation_id,
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from this machine by app.api.routes.docs, not from a CDN
        redoc_url=None,
        # Statuses any route can answer; each route adds its own (401, 404, 409, ...).
        responses=errors.documented(413, 422, 500, 503),
    )
    errors.install_handlers(app)

    if settings.forwarded_allow_ips:
        # Inside RequestContextMiddleware: its 500 boundary covers this too.
        app.add_middleware(TrustedProxyMiddleware, trusted=settings.forwarded_allow_ips)

    # Outermost: even CORS preflights and 500s get the request id and headers. CORS itself runs
    # inside it, for the requests that have an Origin header.
    app.add_middleware(
        RequestContextMiddleware,
        request_log=request_log,
        allowed_hosts=settings.allowed_hosts,
        cors={
            "allow_origins": settings.cors_origins,
            "allow_credentials": True,
            "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            "allow_headers": ["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            "expose_headers": ["X-Request-ID", "X-Process-Time", "Server-Timing", "Retry-After"],
        },
    )

    # The body limit is set per router, not on the app: the app-level limiter answers outside
    # our middleware, without the envelope or the request id. Upload routes set a larger one.
    # In order of traffic: FastAPI tries each included router in turn, ~10 µs apiece, and the
    # public reads (health probes, posts) should not pay for the account routes.
    routers = (health.router, posts.router, files.router, users.router, auth.router, uploads.router)
    for router in routers:
        app.include_router(router, max_body_size=settings.max_json_body_bytes)
    docs.install(app)
    return app


app = create_app()
