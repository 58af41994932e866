"""`quill COMMAND` (or `python -m app COMMAND`): serve, migrate, and the operator commands.

Settings come from the environment (get_settings: the CLI is the one place that reads them from
the process); the commands that need the database open it through `Sessions`, and storage-check
its files through a `Storage`, which `main` takes as arguments so a caller (tests) can lend its
own.
"""

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

from app.core.config import Settings, get_settings
from app.core.database import Database
from app.core.discovery import load_models
from app.uploads.storage import LocalStorage, Storage

ROOT = Path(__file__).resolve().parent.parent

# Opens a session to be used in a `with` block: a Database's sessionmaker, or a test's stand-in.
Sessions = Callable[[], AbstractContextManager[Session]]


def alembic_config(settings: Settings | None = None) -> Config:
    """Alembic's configuration; migrations run against `settings`' database (alembic/env.py),
    by default the process's."""
    config = Config(str(ROOT / "alembic.ini"))
    if settings is not None:
        config.attributes["settings"] = settings
    return config


def migrate(_args: argparse.Namespace) -> int:
    command.upgrade(alembic_config(get_settings()), "head")
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    migrate(args)
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        reload=args.reload,
        # X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS, by create_app's middleware:
        # uvicorn's own default trusts 127.0.0.1, where any local client could pick an address.
        proxy_headers=False,
        # requests.log (app.core.middleware) already records every request, off the response path.
        access_log=False,
    )
    return 0


def create_admin(args: argparse.Namespace) -> int:
    """Promote an existing user, or create one as admin. `is_admin` has no API: this is the way."""
    import getpass

    from pydantic import ValidationError

    from app.users import service as users
    from app.users.schemas import UserCreate

    sessions: Sessions = args.sessions
    with sessions() as session:
        user = users.get_by_email(session, email=args.email)
        if user is not None:
            user.is_admin = True
            session.commit()
            print(f"{user.email} is now an admin")
            return 0
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password for the new admin: ")
            if getpass.getpass("Repeat it: ") != password:
                print("passwords differ", file=sys.stderr)
                return 2
        try:
            data = UserCreate(email=args.email, password=password, name=args.name or "Admin")
        except ValidationError as exc:
            print("; ".join(e["msg"] for e in exc.errors()), file=sys.stderr)
            return 2
        user = users.create_user(session, data=data, is_admin=True)
        print(f"created admin {user.email}")
    return 0


def storage_check(args: argparse.Namespace) -> int:
    """Report files without rows and rows without files; `--fix` removes them."""
    from app.uploads import storage_check as check

    # Every domain's tables, so each column that holds a file's name is checked.
    load_models()
    storage: Storage = args.storage or LocalStorage(get_settings().upload_dir)
    sessions: Sessions = args.sessions
    with sessions() as session:
        report = check.storage_report(session, storage)
        for name in report.files_without_rows:
            print(f"file without a row: {name}")
        for name in report.rows_without_files:
            print(f"row without a file: {name}")
        if report.temporaries:
            print(f"temporaries in progress or left by a crash: {report.temporaries}")
        if report.clean:
            print("storage and database agree")
            return 0
        if args.fix:
            check.fix_storage(session, storage, report)
            print("fixed")
            return 0
    return 1


def main(
    argv: list[str] | None = None,
    *,
    sessions: Sessions | None = None,
    storage: Storage | None = None,
) -> int:
    """Run one command; `sessions` and `storage` default to the process settings' database and
    UPLOAD_DIR."""
    parser = argparse.ArgumentParser(
        prog="quill", description="Quill: serve, migrate, and the operator commands."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="apply migrations, then serve on HOST:PORT")
    p_serve.add_argument("--workers", type=int, default=1)
    p_serve.add_argument("--reload", action="store_true")
    p_serve.set_defaults(func=serve)

    p_migrate = sub.add_parser("migrate", help="apply migrations up to head")
    p_migrate.set_defaults(func=migrate)

    p_admin = sub.add_parser("create-admin", help="promote a user to admin, or create one")
    p_admin.add_argument("--email", required=True)
    p_admin.add_argument("--name", help="for a new user (default: Admin)")
    p_admin.add_argument(
        "--password-stdin", action="store_true", help="read a new user's password from stdin"
    )
    p_admin.set_defaults(func=create_admin)

    p_check = sub.add_parser("storage-check", help="find files and upload rows that disagree")
    p_check.add_argument("--fix", action="store_true", help="remove what is stray")
    p_check.set_defaults(func=storage_check)

    args = parser.parse_args(argv)
    database: Database | None = None

    def process_sessions() -> AbstractContextManager[Session]:
        # Built on first use: serve and migrate never open this engine.
        nonlocal database
        if database is None:
            database = Database.from_settings(get_settings())
        return database.sessions()

    args.sessions = sessions or process_sessions
    args.storage = storage
    try:
        return int(args.func(args))
    finally:
        if database is not None:
            database.dispose()


if __name__ == "__main__":
    sys.exit(main())
