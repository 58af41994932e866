"""TrustedProxyMiddleware: X-Forwarded-For believed from FORWARDED_ALLOW_IPS peers only."""

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


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
