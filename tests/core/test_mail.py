"""Mail: each backend really delivers (file on disk, a live SMTP server), failures never raise."""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from app.core.config import Settings
from app.core.mail import frontend_link, send_mail
from app.users.mails import password_reset_message, verification_message, welcome_message
from tests.utils.servers import free_port
from tests.utils.smtp import CollectingHandler, smtp_sink

SMTP_USER = "quill"
SMTP_PASSWORD = "s3cret-pass"


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _eml_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.eml"))


def _authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, CollectingHandler]]:
    with smtp_sink() as server:
        yield server


@pytest.fixture
def smtp_auth_server() -> Iterator[tuple[Controller, CollectingHandler]]:
    handler = CollectingHandler()
    # Plain-text AUTH is acceptable only because this server lives on loopback for one test.
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


# aiosmtpd warns about AUTH without TLS on every connection; the tests below mean it.
AUTH_WITHOUT_TLS = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)


def _smtp_settings(port: int, user: str | None = None, password: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_user=user,
        smtp_password=password,
        smtp_starttls=False,
        mail_from="Quill <no-reply@quill.test>",
    )


# --- file backend ---------------------------------------------------------------------------


def test_file_backend_writes_one_parseable_eml(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, environment="test", mail_backend="file", mail_dir=tmp_path / "outbox"
    )
    send_mail("ada@example.com", "Hello there", "Grüße aus Quill\nline two", settings)

    files = _eml_files(tmp_path / "outbox")
    assert len(files) == 1
    message = _parse(files[0].read_bytes())
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Hello there"
    assert message["From"] == settings.mail_from
    assert message["Date"] is not None
    assert message["Message-ID"] is not None
    assert message.get_content_type() == "text/plain"
    assert message.get_content().rstrip("\n") == "Grüße aus Quill\nline two"
    # No temporary file is left behind by the atomic write.
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [files[0].name]


def test_file_backend_two_messages_two_files(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, environment="test", mail_backend="file", mail_dir=tmp_path)
    send_mail("a@example.com", "first", "one", settings)
    send_mail("b@example.com", "second", "two", settings)

    files = _eml_files(tmp_path)
    assert len(files) == 2
    subjects = {_parse(path.read_bytes())["Subject"] for path in files}
    assert subjects == {"first", "second"}
    message_ids = {_parse(path.read_bytes())["Message-ID"] for path in files}
    assert len(message_ids) == 2


def test_file_backend_same_instant_still_two_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = datetime(2025, 3, 3, 10, 30, 1, tzinfo=UTC)

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> "FrozenDatetime":
            return cls.fromtimestamp(frozen.timestamp(), tz)

    # Two workers can hit the same timestamp; neither message may overwrite the other.
    monkeypatch.setattr("app.core.mail.datetime", FrozenDatetime)
    settings = Settings(_env_file=None, environment="test", mail_backend="file", mail_dir=tmp_path)
    send_mail("a@example.com", "first", "one", settings)
    send_mail("b@example.com", "second", "two", settings)

    assert len(_eml_files(tmp_path)) == 2


def test_file_backend_disk_error_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the mail folder should be")
    settings = Settings(_env_file=None, environment="test", mail_backend="file", mail_dir=blocker)

    with caplog.at_level(logging.ERROR, logger="quill.mail"):
        send_mail("a@example.com", "lost", "body", settings)

    errors = [r for r in caplog.records if r.name == "quill.mail" and r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None


def test_header_injection_is_refused_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(_env_file=None, environment="test", mail_backend="file", mail_dir=tmp_path)

    with caplog.at_level(logging.ERROR, logger="quill.mail"):
        send_mail("a@example.com", "hi\nBcc: victim@example.com", "body", settings)

    assert _eml_files(tmp_path) == []
    assert any(r.name == "quill.mail" and r.levelno >= logging.ERROR for r in caplog.records)


# --- smtp backend ---------------------------------------------------------------------------


def test_smtp_backend_delivers_to_a_real_server(
    smtp_server: tuple[Controller, CollectingHandler],
) -> None:
    controller, handler = smtp_server
    settings = _smtp_settings(controller.port)

    send_mail("bob@example.com", "Reset your password", "Open this: https://x.test/r", settings)

    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.rcpt_tos == ["bob@example.com"]
    assert envelope.mail_from == "no-reply@quill.test"
    assert isinstance(envelope.original_content, bytes)
    message = _parse(envelope.original_content)
    assert message["To"] == "bob@example.com"
    assert message["Subject"] == "Reset your password"
    # SMTP carries CRLF line endings.
    assert message.get_content().rstrip("\r\n") == "Open this: https://x.test/r"


@AUTH_WITHOUT_TLS
def test_smtp_backend_logs_in_when_a_user_is_set(
    smtp_auth_server: tuple[Controller, CollectingHandler],
) -> None:
    controller, handler = smtp_auth_server
    settings = _smtp_settings(controller.port, user=SMTP_USER, password=SMTP_PASSWORD)

    send_mail("carol@example.com", "Authenticated", "hello", settings)

    assert len(handler.envelopes) == 1
    assert handler.envelopes[0].rcpt_tos == ["carol@example.com"]


@AUTH_WITHOUT_TLS
def test_smtp_wrong_password_is_logged_not_raised(
    smtp_auth_server: tuple[Controller, CollectingHandler], caplog: pytest.LogCaptureFixture
) -> None:
    controller, handler = smtp_auth_server
    settings = _smtp_settings(controller.port, user=SMTP_USER, password="wrong-pass-7Q")

    with caplog.at_level(logging.ERROR, logger="quill.mail"):
        send_mail("carol@example.com", "Should not arrive", "hello", settings)

    assert handler.envelopes == []
    assert any(r.name == "quill.mail" and r.levelno >= logging.ERROR for r in caplog.records)
    # The password must not leak into the log.
    assert "wrong-pass-7Q" not in caplog.text


def test_smtp_server_down_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    settings = _smtp_settings(free_port())  # nothing listens there any more

    with caplog.at_level(logging.ERROR, logger="quill.mail"):
        send_mail("dave@example.com", "Nobody home", "hello", settings)

    errors = [r for r in caplog.records if r.name == "quill.mail" and r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert "dave@example.com" in errors[0].getMessage()


# --- console backend ------------------------------------------------------------------------


def test_console_backend_logs_the_message(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, environment="test", mail_backend="console")

    with caplog.at_level(logging.INFO, logger="quill.mail"):
        send_mail("erin@example.com", "Console subject", "console body", settings)

    infos = [r for r in caplog.records if r.name == "quill.mail" and r.levelno == logging.INFO]
    assert len(infos) == 1
    text = infos[0].getMessage()
    assert "Console subject" in text
    assert "erin@example.com" in text
    assert "console body" in text


# --- links and message builders -------------------------------------------------------------


def test_frontend_link_quotes_the_token() -> None:
    settings = Settings(_env_file=None, environment="test", frontend_url="http://localhost:3000/")
    link = frontend_link("/reset-password", "a+b/c=d&e f", settings)
    assert link == "http://localhost:3000/reset-password?token=a%2Bb%2Fc%3Dd%26e%20f"


def test_frontend_link_plain_token() -> None:
    settings = Settings(_env_file=None, environment="test", frontend_url="https://blog.example.com")
    assert (
        frontend_link("/verify-email", "abc_DEF-123", settings)
        == "https://blog.example.com/verify-email?token=abc_DEF-123"
    )


def test_message_builders_carry_name_and_link() -> None:
    link = "http://localhost:3000/reset-password?token=xyz"

    subject, body = welcome_message("Ada")
    assert subject and "Ada" in body

    subject, body = password_reset_message("Ada", link)
    assert "password" in subject.lower()
    assert "Ada" in body and link in body

    subject, body = verification_message("Ada", link)
    assert "email" in subject.lower()
    assert "Ada" in body and link in body
