"""The application log: LOG_LEVEL / LOG_FORMAT, the request id on every line, uvicorn's loggers
in it, and the console mail backend's reset links visible at the default settings."""

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.logging import configure_logging, logging_config

WATCHED = ("", "quill.mail", "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes the process's loggers: put them back for the other tests."""
    saved = {
        name: (logger.level, list(logger.handlers), logger.propagate)
        for name in WATCHED
        for logger in [logging.getLogger(name)]
    }
    yield
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


@pytest.fixture
def console_mail(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mail through the console backend, the default (the test run's environment sets `file`)."""
    monkeypatch.setattr(settings, "mail_backend", "console")


def test_defaults() -> None:
    # The test run's environment sets MAIL_BACKEND=file; these are the shipped defaults.
    fields = Settings.model_fields
    assert fields["log_level"].default == "INFO" and fields["log_format"].default == "text"
    assert fields["mail_backend"].default == "console"
    assert Settings(environment="test", log_level="debug").log_level == "DEBUG"


@pytest.mark.usefixtures("restore_logging", "console_mail")
def test_console_mail_reset_link_appears_at_default_settings(
    client: TestClient, settings: Settings, make_user, capsys: pytest.CaptureFixture[str]
) -> None:
    make_user("console-mail@example.com")
    # Default settings, but for the environment the test run sets (MAIL_BACKEND=file).
    configure_logging(Settings(environment="test", _env_file=None, mail_backend="console"))
    response = client.post("/auth/forgot-password", json={"email": "console-mail@example.com"})
    assert response.status_code == 202
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "quill.mail" in line)
    assert f"[{response.headers['x-request-id']}]" in line
    assert f"{settings.frontend_url}/reset-password?token=" in err


@pytest.mark.usefixtures("restore_logging")
def test_console_mail_shows_even_when_the_log_is_quieter(capsys) -> None:
    configure_logging(
        Settings(environment="test", _env_file=None, log_level="WARNING", mail_backend="console")
    )
    logging.getLogger("quill.mail").info("mail to a@b.c: reset")
    logging.getLogger("quill.other").info("not shown")
    err = capsys.readouterr().err
    assert "mail to a@b.c" in err and "not shown" not in err


@pytest.mark.usefixtures("restore_logging", "console_mail")
def test_json_lines_parse_and_carry_the_request_id(
    client: TestClient, make_user, capsys: pytest.CaptureFixture[str]
) -> None:
    make_user("json-log@example.com")
    configure_logging(
        Settings(environment="test", _env_file=None, log_format="json", mail_backend="console")
    )
    logging.getLogger("uvicorn.error").info(
        "started", extra={"port": 8000, "color_message": "\x1b[36mstarted\x1b[0m"}
    )
    response = client.post(
        "/auth/forgot-password",
        json={"email": "json-log@example.com"},
        headers={"X-Request-ID": "trace-json-1"},
    )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    started = next(line for line in lines if line["logger"] == "uvicorn.error")
    assert started["message"] == "started" and started["request_id"] == "-"
    assert started["port"] == 8000 and started["level"] == "INFO"
    assert "color_message" not in started
    mail = next(line for line in lines if line["logger"] == "quill.mail")
    assert mail["request_id"] == response.headers["x-request-id"] == "trace-json-1"
    assert "/reset-password?token=" in mail["message"]


@pytest.mark.usefixtures("restore_logging")
def test_exceptions_keep_their_traceback_in_json(capsys) -> None:
    configure_logging(Settings(environment="test", _env_file=None, log_format="json"))
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("quill.errors").exception("failed")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["level"] == "ERROR" and "ValueError: boom" in line["exc_info"]


def test_uvicorn_loggers_go_through_the_one_handler() -> None:
    config = logging_config(Settings(environment="test", _env_file=None, log_level="WARNING"))
    assert config["root"] == {"level": "WARNING", "handlers": ["console"]}
    for name in ("uvicorn", "uvicorn.error"):
        assert config["loggers"][name] == {"level": "WARNING", "handlers": [], "propagate": True}
    # requests.log is the access log: uvicorn's own stays off, as `serve` asks it to.
    assert config["loggers"]["uvicorn.access"]["propagate"] is False
    assert config["handlers"]["console"]["filters"] == ["request_id"]


def test_env_example_lists_the_new_settings_and_loads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`cp .env.example .env` starts: its empty values mean "unset"."""
    from tests.utils.servers import REPO_ROOT

    example = REPO_ROOT / ".env.example"
    text = example.read_text()
    for name in (
        "LOG_LEVEL",
        "LOG_FORMAT",
        "CORS_ALLOW_HEADERS",
        "PUBLIC_BASE_URL",
        "HASH_CONCURRENCY",
        "FIRST_ADMIN_EMAIL",
        "FIRST_ADMIN_PASSWORD",
        "METRICS_ENABLED",
        "METRICS_TOKEN",
    ):
        assert f"\n{name}=" in text
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("IMAGE_DECODE_CONCURRENCY", raising=False)
    monkeypatch.chdir(tmp_path)  # a development key file, if any, lands there
    loaded = Settings(_env_file=example)
    assert loaded.hash_concurrency is None and loaded.image_decode_concurrency is None
    assert loaded.first_admin_email is None and loaded.first_admin_password is None
    assert loaded.public_base_url is None
    assert loaded.metrics_enabled is False and loaded.metrics_token is None
    assert "Cache-Control" in loaded.cors_allow_headers
