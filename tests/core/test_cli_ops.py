"""The `quill` command for operators: scriptable, documented, and the first admin from settings."""

import argparse
import io
import logging
import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import cli
from app.core.config import Settings
from app.users.models import User
from tests.utils.accounts import PASSWORD
from tests.utils.db import Borrowed
from tests.utils.servers import REPO_ROOT
from tests.utils.settings import VALUES, run_environment


def test_quill_console_script_is_installed() -> None:
    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "quill"]
    assert script.value == "app.cli:main"


def test_every_command_and_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == {"serve", "worker", "migrate", "create-admin", "storage-check"}
    helped = {choice.dest for choice in commands._choices_actions if choice.help}
    assert helped == set(commands.choices)
    for name, command in commands.choices.items():
        assert command.description, name
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings} has no help"
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--help"])
    assert exited.value.code == 0
    serve_help = capsys.readouterr().out
    assert "--host" in serve_help and "--port" in serve_help and "default: HOST" in serve_help


def test_serve_listens_where_asked(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(cli, "migrate_apart", lambda _args: None)
    monkeypatch.setattr(uvicorn, "run", lambda _app, **kw: calls.append(kw))
    borrowed = lambda: Borrowed(None)  # noqa: E731
    argv = ["serve", "--host", "0.0.0.0", "--port", "8123"]  # noqa: S104
    assert cli.main(argv, sessions=borrowed, settings=settings) == 0
    assert calls[-1]["host"] == "0.0.0.0" and calls[-1]["port"] == 8123  # noqa: S104
    assert calls[-1]["log_config"]["root"]["handlers"] == ["console"]
    assert cli.main(["serve"], sessions=borrowed, settings=settings) == 0
    assert (calls[-1]["host"], calls[-1]["port"]) == ("127.0.0.1", 8000)


def test_create_admin_with_piped_password(db: Session, monkeypatch, settings: Settings) -> None:
    piped = io.StringIO("piped-admin-password-1\r\n")
    monkeypatch.setattr("sys.stdin", piped)
    argv = ["create-admin", "--email", "piped@example.com", "--password-stdin"]
    assert cli.main(argv, sessions=lambda: Borrowed(db), settings=settings) == 0
    admin = db.scalar(select(User).where(User.email == "piped@example.com"))
    assert admin is not None and admin.is_admin


def test_create_admin_without_a_terminal_says_what_to_do(
    db: Session, monkeypatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("whatever\n"))
    argv = ["create-admin", "--email", "noterm@example.com"]
    assert cli.main(argv, sessions=lambda: Borrowed(db), settings=settings) == 2
    assert "--password-stdin" in capsys.readouterr().err
    assert db.scalar(select(User).where(User.email == "noterm@example.com")) is None


def test_create_admin_password_stdin_in_a_real_pipe() -> None:
    """No terminal at all (as in CI or `docker exec` without -t): no termios traceback. An
    unusable password is refused before the database is written."""
    result = subprocess.run(
        [sys.executable, "-m", "app", "create-admin", "--email", "p@x.example", "--password-stdin"],
        input="short\n",
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **run_environment()},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "termios" not in result.stderr


def _first_admin_settings(settings: Settings, email: str, password: str) -> Settings:
    return settings.model_copy(
        update={"first_admin_email": email, "first_admin_password": password}
    )


def test_first_admin_is_created_once_and_its_password_never_shown(
    db: Session, settings: Settings, caplog, capsys: pytest.CaptureFixture[str]
) -> None:
    from pydantic import SecretStr

    caplog.set_level(logging.DEBUG)
    secret = "first-admin-secret-password-9"
    chosen = _first_admin_settings(settings, "first@example.com", SecretStr(secret))  # type: ignore[arg-type]
    assert secret not in repr(chosen)
    assert cli.ensure_first_admin(db, chosen) is None
    admin = db.scalar(select(User).where(User.email == "first@example.com"))
    assert admin is not None and admin.is_admin
    # An admin exists now: another email is not created.
    other = _first_admin_settings(settings, "second@example.com", SecretStr(secret))  # type: ignore[arg-type]
    assert cli.ensure_first_admin(db, other) is None
    assert db.scalar(select(User).where(User.email == "second@example.com")) is None
    shown = capsys.readouterr()
    assert "first@example.com" in shown.out
    assert secret not in shown.out + shown.err + caplog.text


def test_first_admin_runs_at_migrate(
    db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import SecretStr

    monkeypatch.setattr(settings, "first_admin_email", "migrated@example.com")
    monkeypatch.setattr(settings, "first_admin_password", SecretStr("migrated-admin-password-3"))
    assert cli.main(["migrate"], sessions=lambda: Borrowed(db), settings=settings) == 0
    admin = db.scalar(select(User).where(User.email == "migrated@example.com"))
    assert admin is not None and admin.is_admin


def test_first_admin_never_promotes_someone_elses_account(
    db: Session, settings: Settings, make_user
) -> None:
    from pydantic import SecretStr

    squatter = make_user("taken@example.com")
    chosen = _first_admin_settings(settings, "taken@example.com", SecretStr(PASSWORD))  # type: ignore[arg-type]
    warning = cli.ensure_first_admin(db, chosen)
    assert warning and "create-admin" in warning
    db.refresh(squatter)
    assert squatter.is_admin is False


def test_first_admin_with_a_weak_password_stops_the_start(db: Session, settings: Settings) -> None:
    from pydantic import SecretStr

    chosen = _first_admin_settings(settings, "weak@example.com", SecretStr("short"))  # type: ignore[arg-type]
    with pytest.raises(SystemExit) as exited:
        cli.ensure_first_admin(db, chosen)
    assert "FIRST_ADMIN" in str(exited.value) and "short" not in str(exited.value)


def test_the_worker_without_redis_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.model_validate({**VALUES, "redis_url": None})
    assert cli.main(["worker"], settings=settings) == 2
    assert "REDIS_URL" in capsys.readouterr().err
