"""Finding each domain's modules by name, so that adding a domain is adding a folder.

The core names no domain: alembic's environment and storage-check ask for "every
`app.<package>.models`" here instead of listing them (routers: app.api.routes.router_modules).
"""

import importlib
import pkgutil
from types import ModuleType

import app


def domain_modules(name: str) -> list[ModuleType]:
    """`app.<package>.<name>` for every package of app that has one, in name order."""
    found: list[ModuleType] = []
    for info in sorted(pkgutil.iter_modules(app.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module_name = f"app.{info.name}.{name}"
        try:
            found.append(importlib.import_module(module_name))
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # a broken import inside it is not "no such module"
                raise
    return found


def load_models() -> None:
    """Import every domain's tables, so Base.metadata holds the whole schema."""
    domain_modules("models")
