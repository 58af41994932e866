"""The outbox: how a mail survives the API process dying between answering and handing it over.

The row is written in the transaction of the action (`record`), so a mail exists exactly when its
action committed. After the commit the API hands the row's id to the queue; if it died first (or
Redis was away) the worker's relay hands it over later (`due_for_relay`). Each delivery first
`claim`s the row with a conditional UPDATE (pending -> sending), which one worker only can win:
a row handed over twice, or to two workers, is sent once. A sent row is deleted at once — its body
may hold a live reset link, which the database should not keep — and a row out of attempts is
kept as failed for FAILED_RETENTION, for an operator to see, then pruned.

A worker killed between the SMTP server accepting a mail and the row's delete leaves a claim that
the relay takes back after SEND_LEASE: that mail goes out twice. No SMTP exchange can rule it out;
everything short of it sends once.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.jobs.models import FAILED, PENDING, SENDING, OutboxJob
from app.users.models import new_uid

MAIL = "mail"
# How long a row may wait for the API's own hand-over before the relay does it.
HANDOVER_GRACE = timedelta(seconds=5)
# A claim older than this is a worker that died while sending: the relay takes it back. Longer
# than an SMTP exchange can take (app.core.mail's timeouts).
SEND_LEASE = timedelta(minutes=2)
# After the relay hands a row over, how long before it does again if that message is lost too.
RELAY_LEASE = timedelta(minutes=1)
FAILED_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class Claimed:
    mail: Mail
    attempt: int


def _now() -> datetime:
    return datetime.now(UTC)


def record(session: Session, mail: Mail) -> str:
    """Add a pending mail to the session's transaction (the caller commits); its id."""
    job = OutboxJob(
        id=new_uid(),
        kind=MAIL,
        payload=json.dumps({"to": mail.to, "subject": mail.subject, "body": mail.body}),
        status=PENDING,
        attempts=0,
        relay_after=_now() + HANDOVER_GRACE,
    )
    session.add(job)
    return job.id


def claim(session: Session, job_id: str) -> Claimed | None:
    """Take the row for sending, or None when it is sent, failed, or another worker has it.
    Commits."""
    result = session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.status == PENDING)
        .values(status=SENDING, attempts=OutboxJob.attempts + 1, relay_after=_now() + SEND_LEASE)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    job = session.scalars(select(OutboxJob).where(OutboxJob.id == job_id)).one()
    session.commit()
    data = json.loads(job.payload)
    return Claimed(Mail(data["to"], data["subject"], data["body"]), job.attempts)


def done(session: Session, job_id: str) -> None:
    session.execute(delete(OutboxJob).where(OutboxJob.id == job_id))
    session.commit()


def retry_later(session: Session, job_id: str, *, relay_after: timedelta) -> None:
    """Give the claim back after a failed try; the queue retries it, and the relay only if that
    retry is lost (after `relay_after`, longer than the queue's back-off)."""
    session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.status == SENDING)
        .values(status=PENDING, relay_after=_now() + relay_after)
    )
    session.commit()


def give_up(session: Session, job_id: str) -> None:
    session.execute(
        update(OutboxJob).where(OutboxJob.id == job_id).values(status=FAILED, relay_after=_now())
    )
    session.commit()


def due_for_relay(session: Session, *, limit: int = 100) -> list[str]:
    """The ids to hand (again) to the queue: rows the API never handed over, and claims whose
    worker went silent. Each is leased to this caller with a conditional UPDATE, so several
    relays running at once hand each row over once. Commits."""
    now = _now()
    session.execute(
        update(OutboxJob)
        .where(OutboxJob.status == SENDING, OutboxJob.relay_after < now)
        .values(status=PENDING)
    )
    session.commit()
    due = (OutboxJob.status == PENDING, OutboxJob.relay_after < now)
    ids = session.scalars(
        select(OutboxJob.id).where(*due).order_by(OutboxJob.relay_after).limit(limit)
    ).all()
    leased = []
    for job_id in ids:
        # Still due only if no other relay leased it since the SELECT.
        result = session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id, *due)
            .values(relay_after=now + RELAY_LEASE)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            leased.append(job_id)
    session.commit()
    return leased


def prune(session: Session) -> int:
    """Delete failed rows older than FAILED_RETENTION; how many. Commits."""
    result = session.execute(
        delete(OutboxJob).where(
            OutboxJob.status == FAILED, OutboxJob.relay_after < _now() - FAILED_RETENTION
        )
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
