"""`quill COMMAND` (or `python -m app COMMAND`): serve, worker, migrate, and the operator commands.

Settings come from the environment (get_settings: the CLI is the one place that reads them from
the process); the commands that need the database open it through `Sessions`, and storage-check
its files through a `Storage`, which `main` takes as arguments so a caller (tests) can lend its
own. A process run (no sessions lent) also configures the application log (app.core.logging).
"""

import argparse
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.config import Settings, get_settings
from app.core.logging import configure_logging, logging_config

# Imported where used: `serve --workers N` stays the workers' supervisor for as long as they
# run, and what it imports (alembic, SQLAlchemy, the models) it would keep in memory all along.
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session

    from app.core.database import Database
    from app.uploads.storage import Storage

ROOT = Path(__file__).resolve().parent.parent

# Opens a session to be used in a `with` block: a Database's sessionmaker, or a test's stand-in.
Sessions = Callable[[], AbstractContextManager["Session"]]


def alembic_config(settings: Settings | None = None) -> "Config":
    """Alembic's configuration; migrations run against `settings`' database (alembic/env.py),
    by default the process's."""
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    if settings is not None:
        config.attributes["settings"] = settings
    return config


def ensure_first_admin(session: "Session", settings: Settings) -> str | None:
    """Create FIRST_ADMIN_EMAIL as admin, with FIRST_ADMIN_PASSWORD, when no admin exists yet;
    a warning, or None. The password is never printed nor logged. A password the account rules
    refuse stops the start (SystemExit), as any other invalid setting does.

    An existing non-admin account with that email is left alone: whoever registered it chose its
    password, so promoting it would hand them the admin role (`create-admin` does, on purpose).
    """
    from pydantic import ValidationError
    from sqlalchemy import select

    from app.users import service as users
    from app.users.models import User
    from app.users.schemas import UserCreate

    email, password = settings.first_admin_email, settings.first_admin_password
    if not email or password is None:
        return None
    if session.scalar(select(User.id).where(User.is_admin).limit(1)) is not None:
        return None
    if users.get_by_email(session, email=email) is not None:
        return f"FIRST_ADMIN_EMAIL {email} is an account but not an admin: use create-admin"
    try:
        data = UserCreate(email=email, password=password.get_secret_value(), name="Admin")
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors(include_input=False))
        raise SystemExit(f"invalid settings: FIRST_ADMIN_*: {reasons}") from None
    users.create_user(session, data=data, is_admin=True)
    print(f"created the first admin {data.email}")
    return None


def migrate(args: argparse.Namespace) -> int:
    """Upgrade to head, then create FIRST_ADMIN_EMAIL as admin if there is no admin yet."""
    config = alembic_config(args.settings)
    # alembic.ini's logging sections are for the `alembic` command; here the app's log stays.
    config.attributes["configure_logger"] = False
    from alembic import command

    command.upgrade(config, "head")
    sessions: Sessions = args.sessions
    with sessions() as session:
        warning = ensure_first_admin(session, args.settings)
    if warning:
        print(warning, file=sys.stderr)
    return 0


def migrate_apart(_args: argparse.Namespace) -> None:
    """`migrate` in a child process. `serve` stays the supervisor of its workers for as long as
    they run: migrating in it would keep the models, alembic and the driver in its memory all
    that time (it was most of the supervisor's size)."""
    done = subprocess.run([sys.executable, "-m", "app", "migrate"], check=False)
    if done.returncode != 0:
        raise SystemExit(done.returncode)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.core.metrics import server_directory

    settings: Settings = args.settings
    migrate_apart(args)
    # Before any worker imports prometheus_client: they all count into one directory.
    with server_directory(settings.metrics_enabled):
        uvicorn.run(
            "app.main:app",
            host=args.host or settings.host,
            port=args.port or settings.port,
            # The same log configuration, applied by uvicorn in each worker before the app loads.
            log_config=logging_config(settings),
            workers=args.workers,
            reload=args.reload,
            # X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS, by create_app's middleware:
            # uvicorn's own default trusts 127.0.0.1, where any local client could pick an address.
            proxy_headers=False,
            # requests.log (app.core.middleware) already records every request, off the
            # response path.
            access_log=False,
        )
    return 0


def worker(args: argparse.Namespace) -> int:
    """Run the job queue's worker (JOBS_BACKEND=redis) until SIGTERM or SIGINT."""
    from app.core.discovery import load_models
    from app.jobs import worker as jobs_worker

    settings: Settings = args.settings
    if not settings.redis_url:
        print("the worker needs REDIS_URL (and the API JOBS_BACKEND=redis)", file=sys.stderr)
        return 2
    load_models()
    return jobs_worker.run(settings, threads=args.threads)


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
            password = sys.stdin.readline().rstrip("\r\n")
        elif not sys.stdin.isatty():
            # getpass would fall back to echoing or fail on the terminal settings: say what to do.
            print(
                "stdin is not a terminal: pipe the password with --password-stdin", file=sys.stderr
            )
            return 2
        else:
            password = getpass.getpass("Password for the new admin: ")
            if getpass.getpass("Repeat it: ") != password:
                print("passwords differ", file=sys.stderr)
                return 2
        if not password:
            print("no password given", file=sys.stderr)
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
    # Every domain's tables, so each column that holds a file's name is checked.
    from app.core.discovery import load_models
    from app.uploads import storage_check as check
    from app.uploads.backends import storage_from_settings

    load_models()
    storage: Storage = args.storage or storage_from_settings(args.settings)
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


def build_parser() -> argparse.ArgumentParser:
    """Every command and option, each with its help text (`quill COMMAND --help`)."""
    parser = argparse.ArgumentParser(
        prog="quill", description="Quill: serve, migrate, and the operator commands."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser(
        "serve",
        help="apply migrations (and FIRST_ADMIN_*), then serve on HOST:PORT",
        description="Apply migrations, create the first admin from settings if there is "
        "none, then serve the API with uvicorn.",
    )
    p_serve.add_argument("--host", help="address to listen on (default: HOST, 127.0.0.1)")
    p_serve.add_argument(
        "--port", type=int, help="port to listen on (default: PORT, 8000)", metavar="PORT"
    )
    p_serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (default: 1)", metavar="N"
    )
    p_serve.add_argument(
        "--reload", action="store_true", help="restart when the code changes (development)"
    )
    p_serve.set_defaults(func=serve)

    p_worker = sub.add_parser(
        "worker",
        help="run the job queue's worker (mail, the login log) on REDIS_URL",
        description="Send the mail and write the login log lines the API queued on REDIS_URL "
        "(JOBS_BACKEND=redis), retrying with back-off, and hand over mail the API recorded but "
        "could not queue. Run one or more, on any machine that reaches the database and Redis.",
    )
    p_worker.add_argument(
        "--threads", type=int, default=4, help="jobs run at once (default: 4)", metavar="N"
    )
    p_worker.set_defaults(func=worker)

    p_migrate = sub.add_parser(
        "migrate",
        help="apply migrations up to head (and FIRST_ADMIN_*)",
        description="Apply the database migrations up to head, then create FIRST_ADMIN_EMAIL "
        "as admin if the database has no admin yet.",
    )
    p_migrate.set_defaults(func=migrate)

    p_admin = sub.add_parser(
        "create-admin",
        help="promote a user to admin, or create one",
        description="Promote the account with this email to admin, or create it as admin. "
        "A new account's password is asked twice on a terminal, or read from stdin.",
    )
    p_admin.add_argument("--email", required=True, help="the account's email")
    p_admin.add_argument("--name", help="for a new user (default: Admin)")
    p_admin.add_argument(
        "--password-stdin",
        action="store_true",
        help="read a new user's password from the first line of stdin (for scripts)",
    )
    p_admin.set_defaults(func=create_admin)

    p_check = sub.add_parser(
        "storage-check",
        help="find files and upload rows that disagree",
        description="List stored files without a database row and rows without a file; exit "
        "1 if there are any.",
    )
    p_check.add_argument("--fix", action="store_true", help="remove what is stray")
    p_check.set_defaults(func=storage_check)
    return parser


def main(
    argv: list[str] | None = None,
    *,
    sessions: Sessions | None = None,
    storage: "Storage | None" = None,
    settings: Settings | None = None,
) -> int:
    """Run one command; `settings` default to the process's (get_settings), `sessions` and
    `storage` to their database and UPLOAD_DIR."""
    args = build_parser().parse_args(argv)
    if sessions is None:
        # A process of its own: its log goes to stderr as configured. A caller lending
        # sessions (tests) keeps the logging it has.
        configure_logging(settings or get_settings())
    database: Database | None = None

    def process_sessions() -> AbstractContextManager["Session"]:
        # Built on first use: serve and migrate never open this engine.
        nonlocal database
        if database is None:
            from app.core.database import Database

            database = Database.from_settings(args.settings)
        return database.sessions()

    args.settings = settings or get_settings()
    args.sessions = sessions or process_sessions
    args.storage = storage
    try:
        return int(args.func(args))
    finally:
        if database is not None:
            database.dispose()


if __name__ == "__main__":
    sys.exit(main())
