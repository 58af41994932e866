"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts: the sink the mail tests
count messages at. It can refuse the first few messages, as a mail server in trouble does."""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.utils.servers import free_port

# aiosmtpd logs every connection at INFO from its own thread, which can outlive the test whose
# captured stderr a handler wrote to ("--- Logging error --- I/O operation on closed file").
logging.getLogger("mail.log").setLevel(logging.WARNING)


class CollectingHandler:
    """An aiosmtpd handler that keeps every envelope it accepts; the first `refuse` messages get a
    temporary failure (451) instead, each counted in `refused`."""

    def __init__(self, refuse: int = 0) -> None:
        self.envelopes: list[Envelope] = []
        self.refuse = refuse
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 Try again later"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self, subject: str | None = None) -> list[Message]:
        """What was accepted, parsed; only those with `subject` when given."""
        parsed = []
        for envelope in self.envelopes:
            content = envelope.content
            raw = content if isinstance(content, bytes) else str(content).encode()
            parsed.append(message_from_bytes(raw))
        return [m for m in parsed if subject is None or m["Subject"] == subject]

    def wait_for(self, count: int, *, subject: str | None = None, timeout: float = 30) -> None:
        """Until `count` messages (with `subject`) arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(self.messages(subject)) < count:
            assert time.monotonic() < deadline, f"{len(self.messages(subject))} of {count} mails"
            time.sleep(0.1)


@contextmanager
def smtp_sink(refuse: int = 0) -> Iterator[tuple[Controller, CollectingHandler]]:
    handler = CollectingHandler(refuse)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()
