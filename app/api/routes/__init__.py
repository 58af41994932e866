"""One router per resource: each parses, authorises through app.api.deps, calls a service and
shapes the answer. The app factory serves every module here that has a `router`."""

import importlib
import pkgutil
from types import ModuleType

# Routers are tried in turn for every request, so the busiest go first; unlisted ones follow in
# name order. A new resource's router needs no entry here to be served.
TRAFFIC_ORDER = ("health", "posts", "comments", "tags", "files", "feed", "users", "auth", "uploads")


def router_modules() -> list[ModuleType]:
    """Every module of this package with a `router`, busiest first."""
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
    ]

    def rank(module: ModuleType) -> tuple[int, str]:
        short = module.__name__.rsplit(".", 1)[1]
        index = TRAFFIC_ORDER.index(short) if short in TRAFFIC_ORDER else len(TRAFFIC_ORDER)
        return index, short

    return sorted((m for m in modules if hasattr(m, "router")), key=rank)
