"""`python -m app COMMAND`: serve, migrate, and the operator commands."""

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    return Config(str(ROOT / "alembic.ini"))


def migrate(_args: argparse.Namespace) -> int:
    command.upgrade(alembic_config(), "head")
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.config import get_settings

    settings = get_settings()
    migrate(args)
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        reload=args.reload,
        proxy_headers=True,
        # requests.log (app.middleware) already records every request, off the response path.
        access_log=False,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="apply migrations, then serve on HOST:PORT")
    p_serve.add_argument("--workers", type=int, default=1)
    p_serve.add_argument("--reload", action="store_true")
    p_serve.set_defaults(func=serve)

    p_migrate = sub.add_parser("migrate", help="apply migrations up to head")
    p_migrate.set_defaults(func=migrate)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
