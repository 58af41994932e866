"""Per-address mail throttle: at most `MAIL_PER_ADDRESS_PER_HOUR` mails to one address an hour.

Counted in the database, so it holds across workers. Each address has that many slots (rows keyed
by address digest and slot number, unique together); sending takes one: a new slot is an INSERT
the unique constraint arbitrates, an old one an UPDATE that only succeeds if nobody took it since
it was read. So concurrent requests can never reserve more slots than there are, on any backend,
without holding a lock while a mail goes out. The address is kept as a keyed digest only.
"""

import hashlib
import hmac
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.models import MailSlot
from app.core.config import Settings
from app.core.text import normalize_email

WINDOW = timedelta(hours=1)


def address_digest(address: str, *, key: str) -> str:
    """The address keyed with `key` (the app's signing key): a plain hash of an email is
    reversed with a list of addresses."""
    message = b"mail-throttle:" + normalize_email(address).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def reserve(session: Session, *, settings: Settings, address: str) -> int | None:
    """Take a sending slot for `address`: None when taken (send the mail), else the seconds until
    one frees up. Commits (or rolls back) the session's transaction."""
    limit = settings.mail_per_address_per_hour
    key = address_digest(address, key=settings.signing_key)
    # Each round either takes a slot or saw another request take one; more rounds than slots
    # means every slot was taken under us.
    for _ in range(limit + 1):
        now = datetime.now(UTC)
        taken = dict(
            session.execute(
                select(MailSlot.slot, MailSlot.sent_at).where(
                    MailSlot.address_digest == key, MailSlot.slot < limit
                )
            ).all()
        )
        free = next((slot for slot in range(limit) if slot not in taken), None)
        if free is not None:
            session.add(MailSlot(address_digest=key, slot=free, sent_at=now))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                continue
            return None
        slot, oldest = min(taken.items(), key=lambda item: item[1])
        if oldest > now - WINDOW:
            session.rollback()
            return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
        result = session.execute(
            update(MailSlot)
            .where(
                MailSlot.address_digest == key, MailSlot.slot == slot, MailSlot.sent_at == oldest
            )
            .values(sent_at=now)
        )
        session.commit()
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return None
    return int(WINDOW.total_seconds())
