"""Reading what the file mail backend wrote (conftest sets MAIL_BACKEND=file)."""

import re
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from app.core.config import Settings


def mails_to(settings: Settings, address: str) -> list[Message]:
    folder = Path(settings.mail_dir)
    messages = [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]
    return [m for m in messages if m["To"] == address]


def token_from_mail(message: Message, path: str, settings: Settings) -> str:
    """The token of the one link in `message`, which must point at FRONTEND_URL + `path`."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes), "a single-part message"
    found = re.search(r"(http\S+)", payload.decode())
    assert found, "no link in the message"
    link = found.group(1)
    parsed = urlparse(link)
    assert f"{parsed.scheme}://{parsed.netloc}" == settings.frontend_url.rstrip("/")
    assert parsed.path == path
    return parse_qs(parsed.query)["token"][0]
