"""Outgoing mail: build a message and hand it to the backend named by `MAIL_BACKEND`.

`Mailer.send` (or `send_mail`) runs in FastAPI `BackgroundTasks`, after the response has gone
out, so it is synchronous and never raises: a mail server that is down must not turn into an
error nobody can see. Failures are logged on the `quill.mail` logger instead. The job queue's
worker calls `deliver`, which raises, so that it can retry.

Backends: `console` (log the message, for development), `file` (one `.eml` per message in
`MAIL_DIR`, for tests and inspection) and `smtp`.
"""

import logging
import os
import secrets
import smtplib
import ssl
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import quote

from app.core import metrics
from app.core.config import Settings

logger = logging.getLogger("quill.mail")

SMTP_TIMEOUT_SECONDS = 10

Backend = Callable[[EmailMessage, Settings], None]


def build_message(to: str, subject: str, body: str, settings: Settings) -> EmailMessage:
    """A complete text/plain message; raises ValueError on a header with a line break."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=_sender_domain(message))
    message.set_content(body, subtype="plain", charset="utf-8")
    return message


def _sender_domain(message: EmailMessage) -> str:
    # make_msgid() without a domain asks DNS for this host's FQDN, which can stall for seconds.
    addresses: tuple[Address, ...] = message["From"].addresses
    domain = addresses[0].domain if addresses else ""
    return domain or "localhost"


def _send_console(message: EmailMessage, settings: Settings) -> None:
    logger.info(
        "mail to %s: %s\n%s", message["To"], message["Subject"], message.get_content().rstrip()
    )


def _send_file(message: EmailMessage, settings: Settings) -> None:
    directory = Path(settings.mail_dir)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    # The timestamp sorts files by sending order; the random part keeps same-microsecond
    # messages (and several processes) from overwriting each other.
    target = directory / f"{stamp}-{secrets.token_hex(8)}.eml"
    # Written under a temporary name and renamed, so a reader never sees half a message.
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _send_smtp(message: EmailMessage, settings: Settings) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)


BACKENDS: dict[str, Backend] = {
    "console": _send_console,
    "file": _send_file,
    "smtp": _send_smtp,
}


class Mailer:
    """Sends through the backend the app's settings name; create_app puts one on app.state.

    The backend is looked up at each send, so a changed `mail_backend` takes effect at once.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def deliver(self, to: str, subject: str, body: str) -> None:
        """Send one text mail; raise on failure (the job queue's worker retries it)."""
        message = build_message(to, subject, body, self.settings)
        BACKENDS[self.settings.mail_backend](message, self.settings)

    def send(self, to: str, subject: str, body: str) -> None:
        """Send one text mail; log any failure, never raise."""
        settings = self.settings
        try:
            self.deliver(to, subject, body)
        except Exception:
            # Runs after the response is sent: raising would only produce an unlogged traceback.
            logger.exception(
                "could not send mail to %s (subject %r) via %s", to, subject, settings.mail_backend
            )
            metrics.count_mail(settings.mail_backend, sent=False)
        else:
            metrics.count_mail(settings.mail_backend, sent=True)

    def link(self, path: str, token: str) -> str:
        """A link into the frontend carrying `token`: `{FRONTEND_URL}/reset-password?token=…`."""
        # safe="" so characters like "/" or "+" in a token cannot change the URL's meaning.
        return f"{self.settings.frontend_url.rstrip('/')}{path}?token={quote(token, safe='')}"


def send_mail(to: str, subject: str, body: str, settings: Settings) -> None:
    """`Mailer(settings).send`, for callers that hold settings but no app's Mailer."""
    Mailer(settings).send(to, subject, body)


def frontend_link(path: str, token: str, settings: Settings) -> str:
    """`Mailer(settings).link`, for callers that hold settings but no app's Mailer."""
    return Mailer(settings).link(path, token)
