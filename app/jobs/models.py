"""The job outbox: a mail to send, written in the transaction of the action it follows."""

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, UTCDateTime, utcnow
from app.users.models import new_uid

PENDING = "pending"
SENDING = "sending"
FAILED = "failed"


class OutboxJob(Base):
    """One job waiting for the worker; deleted once done (app/jobs/outbox.py).

    `status`: pending (waiting for a worker), sending (claimed by one until `relay_after`),
    failed (out of attempts, kept a while for an operator). `relay_after`: when the relay may hand
    a pending row to the queue again, or take back a claim whose worker went silent."""

    __tablename__ = "job_outbox"
    __table_args__ = (Index("ix_job_outbox_status_relay_after", "status", "relay_after"),)

    # Also the queue message's id, so a message handed over twice names the same row.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_uid)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    relay_after: Mapped[datetime] = mapped_column(UTCDateTime)
