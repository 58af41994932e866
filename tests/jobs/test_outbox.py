"""The outbox's rules on the test database: one claim per row, retries, relay leases, pruning;
and the settings that choose the job backend."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.jobs import outbox
from app.jobs.models import FAILED, PENDING, SENDING, OutboxJob
from app.jobs.outbox import Mail

MAIL = Mail("ada@example.com", "Subject", "Body")


def _age(db: Session, job_id: str, by: timedelta) -> None:
    db.execute(
        update(OutboxJob).where(OutboxJob.id == job_id).values(relay_after=datetime.now(UTC) - by)
    )
    db.commit()


def _row(db: Session, job_id: str) -> OutboxJob | None:
    db.expire_all()
    return db.scalar(select(OutboxJob).where(OutboxJob.id == job_id))


def test_a_row_is_claimed_once_and_deleted_when_sent(db: Session) -> None:
    job_id = outbox.record(db, MAIL)
    db.commit()
    claimed = outbox.claim(db, job_id)
    assert claimed is not None
    assert claimed.mail == MAIL and claimed.attempt == 1
    assert outbox.claim(db, job_id) is None  # a duplicate message finds it taken
    outbox.done(db, job_id)
    assert _row(db, job_id) is None
    assert outbox.claim(db, job_id) is None  # and one arriving later finds nothing


def test_an_uncommitted_action_leaves_no_mail(db: Session) -> None:
    job_id = outbox.record(db, MAIL)
    db.rollback()
    assert outbox.claim(db, job_id) is None


def test_a_failed_try_is_claimable_again_and_counts(db: Session) -> None:
    job_id = outbox.record(db, MAIL)
    db.commit()
    assert outbox.claim(db, job_id) is not None
    outbox.retry_later(db, job_id, relay_after=timedelta(minutes=5))
    row = _row(db, job_id)
    assert row is not None and row.status == PENDING
    # Not due for the relay: the queue's own retry comes first.
    assert job_id not in outbox.due_for_relay(db)
    again = outbox.claim(db, job_id)
    assert again is not None and again.attempt == 2


def test_the_relay_hands_over_late_rows_once(db: Session) -> None:
    fresh = outbox.record(db, MAIL)
    late = outbox.record(db, MAIL)
    db.commit()
    _age(db, late, timedelta(seconds=1))
    assert outbox.due_for_relay(db) == [late]  # the fresh one is the API's to hand over
    assert outbox.due_for_relay(db) == []  # leased: a second relay pass (or worker) skips it
    assert fresh not in outbox.due_for_relay(db)


def test_the_relay_takes_back_a_claim_whose_worker_died(db: Session) -> None:
    job_id = outbox.record(db, MAIL)
    db.commit()
    assert outbox.claim(db, job_id) is not None
    assert outbox.due_for_relay(db) == []  # the claim is within its lease
    _age(db, job_id, timedelta(seconds=1))
    assert outbox.due_for_relay(db) == [job_id]
    row = _row(db, job_id)
    assert row is not None and row.status == PENDING


def test_failed_rows_are_kept_for_a_while_then_pruned(db: Session) -> None:
    job_id = outbox.record(db, MAIL)
    db.commit()
    outbox.give_up(db, job_id)
    assert outbox.prune(db) == 0
    row = _row(db, job_id)
    assert row is not None and row.status == FAILED
    assert outbox.claim(db, job_id) is None
    _age(db, job_id, outbox.FAILED_RETENTION + timedelta(minutes=1))
    assert outbox.prune(db) == 1
    assert _row(db, job_id) is None


def test_sending_rows_are_not_pruned(db: Session) -> None:
    job_id = outbox.record(db, MAIL)
    db.commit()
    outbox.claim(db, job_id)
    _age(db, job_id, outbox.FAILED_RETENTION * 2)
    assert outbox.prune(db) == 0
    row = _row(db, job_id)
    assert row is not None and row.status == SENDING


def test_redis_jobs_need_redis_url() -> None:
    with pytest.raises(ValidationError, match="JOBS_BACKEND=redis needs REDIS_URL"):
        Settings(_env_file=None, environment="test", jobs_backend="redis")  # type: ignore[call-arg]
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, environment="test", jobs_backend="redis", redis_url="redis://x:6379/0"
    )
    assert settings.jobs_backend == "redis"


def test_back_off_bounds_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="JOBS_RETRY_MAX_SECONDS"):
        Settings(  # type: ignore[call-arg]
            _env_file=None, environment="test", jobs_retry_min_seconds=60, jobs_retry_max_seconds=5
        )
