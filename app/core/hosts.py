"""The Host header: which names this server answers for (ALLOWED_HOSTS), and redirects that never
point at a host taken from the request."""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit


class AllowedHosts:
    """ALLOWED_HOSTS: exact names, `*.example.com` for its subdomains, or `*` for any."""

    def __init__(self, patterns: Iterable[str]) -> None:
        names = {p.strip().lower().rstrip(".") for p in patterns if p.strip()}
        self.any = "*" in names
        self.suffixes = tuple(name[1:] for name in names if name.startswith("*."))
        self.exact = frozenset(name.strip("[]") for name in names if not name.startswith("*."))

    def allows(self, host_header: bytes | None) -> bool:
        if self.any:
            return True
        if not host_header:
            return False
        host = host_header.decode("latin-1").lower()
        if host.startswith("["):  # [::1]:8000
            host = host[1 : host.find("]")] if "]" in host else host
        elif ":" in host:
            host = host.rsplit(":", 1)[0]
        host = host.rstrip(".")
        return host in self.exact or host.endswith(self.suffixes)


def relative_location(headers: list[Any], host: bytes | None) -> list[Any]:
    """Starlette builds redirects (the trailing-slash one) from the request's Host header; a
    redirect to our own host needs no host at all, so none taken from a request is ever sent."""
    kept = []
    for name, value in headers:
        if (
            name.lower() == b"location"
            and host
            and value[:8].lower().startswith((b"http://", b"https://"))
        ):
            parts = urlsplit(value.decode("latin-1"))
            if parts.netloc.encode("latin-1").lower() == host.lower():
                # `//evil.example` (from GET //evil.example/) would be a protocol-relative URL
                # to another host; browsers read `/\` as `//` too.
                path = "/" + parts.path.lstrip("/\\")
                value = (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")
        kept.append((name, value))
    return kept
