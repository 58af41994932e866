"""Rate limits per client address: `RATE_LIMIT_AUTH` on /auth, `RATE_LIMIT_UPLOADS` on the upload
routes; over the limit, 429 `RATE_LIMITED` with `Retry-After`.

The counting is the `limits` library's (the engine under Flask-Limiter and slowapi, released
regularly, typed): its moving window answers exactly "when does the window free a slot", which is
what `Retry-After` promises, and it keeps the same window in process memory or in Redis (an
atomic script, so every worker and host shares one count) behind one API. What it has no notion
of is HTTP, so this module adds:

- `RateLimitMiddleware`, a pure ASGI layer that matches the method and path of a request against
  the limited routes *before* routing and before the body is read: every request counts (not only
  failures, not only the ones whose body parses), and one over the limit costs no body read, no
  JSON parsing and no database. (A FastAPI dependency would run only after the body was read.)
- the client key: the peer address as TrustedProxyMiddleware left it (X-Forwarded-For only from
  FORWARDED_ALLOW_IPS), an IPv6 client by its /64, since one subscriber gets a whole /64;
- what a Redis outage does: the limits go on being counted in this process's memory (a warning
  is logged, Redis is tried again after `REDIS_RETRY_SECONDS`). No request fails because Redis
  does, and the limits do not switch off either: each process still allows at most the limit.
"""

import ipaddress
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import DomainError, domain_error_handler, register

logger = logging.getLogger("quill.ratelimit")

# A Redis that accepts connections but does not answer holds a request this long, at most.
REDIS_TIMEOUT_SECONDS = 1.0
# After Redis failed, count in memory this long before trying it again.
REDIS_RETRY_SECONDS = 5.0


class RateLimitedError(DomainError):
    message = "Too many requests from your address, try again later"

    def __init__(self, retry_after_seconds: int):
        super().__init__(headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after = retry_after_seconds


register(RateLimitedError, 429, "RATE_LIMITED")


@lru_cache(maxsize=32)
def parse_limits(text: str) -> tuple[RateLimitItem, ...]:
    """`10/minute`, or several joined by `;` (`100/hour;10/minute`). Raises ValueError."""
    items = tuple(parse_many(text))
    if not items:
        raise ValueError(f"{text!r} is no rate limit (e.g. 10/minute)")
    return items


def client_key(scope: Scope) -> str:
    """Whom a request counts against: its client address (an IPv6 one by its /64), or
    `unknown` when there is none (a trusted proxy forwarded no valid address)."""
    client = scope.get("client")
    if not client or not client[0]:
        return "unknown"
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return str(client[0])  # not an IP (a test client's name): count it as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _async_storage_url(redis_url: str) -> str:
    # limits names its asyncio Redis storages `async+redis://`, `async+rediss://`,
    # `async+redis+unix://`; REDIS_URL is the plain URL every Redis client takes.
    scheme, sep, rest = redis_url.partition("://")
    return f"async+{'redis+unix' if scheme == 'unix' else scheme}{sep}{rest}"


class RateLimiter:
    """Moving-window counts, in Redis when `redis_url` is set (else, and while Redis fails, in
    this process's memory). `hit` counts a request and says how long to wait if it is over."""

    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "quill") -> None:
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if redis_url:
            storage = storage_from_string(
                _async_storage_url(redis_url),
                implementation="redispy",
                key_prefix=f"{key_prefix}:ratelimit",
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._shared = MovingWindowRateLimiter(storage)
        self._shared_down_until = 0.0

    async def hit(self, items: Sequence[RateLimitItem], *identifiers: str) -> int | None:
        """Count one request under every limit in `items`; None if it is within all of them,
        else the seconds until the window of one it exceeds frees a slot (at least 1)."""
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                retry = await _hit(self._shared, items, identifiers)
            except StorageError as exc:
                self._shared_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                logger.warning(
                    "rate limits: Redis failed (%s); counting in this process's memory for %gs",
                    exc.storage_error,
                    REDIS_RETRY_SECONDS,
                )
            else:
                return retry
        return await _hit(self._memory, items, identifiers)


async def _hit(
    strategy: MovingWindowRateLimiter, items: Sequence[RateLimitItem], identifiers: Sequence[str]
) -> int | None:
    retry: int | None = None
    for item in items:  # every limit counts the request, even once one is exceeded
        if not await strategy.hit(item, *identifiers):
            stats = await strategy.get_window_stats(item, *identifiers)
            wait = max(1, math.ceil(stats.reset_time - time.time()))
            retry = max(retry or 0, wait)
    return retry


@dataclass(frozen=True)
class RouteLimit:
    """One limit and the routes it covers, as (method, path template) pairs: `{name}` matches a
    path segment, `{name:path}` the rest of the path. `setting` is the Settings field with the
    limit's text (`10/minute`)."""

    name: str
    setting: str
    routes: tuple[tuple[str, str], ...]


class RateLimitMiddleware:
    """Counts the requests of the limited routes per client and answers 429 over the limit.

    Installed inside TrustedProxyMiddleware (the client address is the believed one) and inside
    RequestContextMiddleware (the 429 gets the request id, CORS and security headers). Settings
    are read per request, so RATE_LIMIT_ENABLED and the limits follow the app's settings.
    """

    def __init__(
        self, app: ASGIApp, *, limiter: RateLimiter, settings: Settings, limits: list[RouteLimit]
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.settings = settings
        self.routes: dict[str, list[tuple[re.Pattern[str], RouteLimit]]] = {}
        for limit in limits:
            for method, template in limit.routes:
                pattern = compile_path(template)[0]
                self.routes.setdefault(method, []).append((pattern, limit))

    def limit_for(self, method: str, path: str) -> RouteLimit | None:
        for pattern, limit in self.routes.get(method, ()):
            if pattern.match(path):
                return limit
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.settings.rate_limit_enabled:
            limit = self.limit_for(scope["method"], scope["path"])
            if limit is not None:
                items = parse_limits(str(getattr(self.settings, limit.setting)))
                retry = await self.limiter.hit(items, limit.name, client_key(scope))
                if retry is not None:
                    answer = await domain_error_handler(Request(scope), RateLimitedError(retry))
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)
