"""Issue 9, finding 16 (mail flood): at most MAIL_PER_ADDRESS_PER_HOUR mails an hour to one
address, counted in the database, atomically (concurrent requests cannot overshoot)."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.auth.mail_throttle import address_digest
from app.auth.models import MailSlot
from app.core.config import Settings
from app.main import create_app
from tests.utils.accounts import bearer, login
from tests.utils.db import committed_user as committed
from tests.utils.mail import mails_to


def test_default_is_three_an_hour() -> None:
    assert Settings.model_fields["mail_per_address_per_hour"].default == 3


def test_verify_request_is_429_past_the_limit(
    client: TestClient, make_user, db: Session, settings
) -> None:
    user = make_user("verify-flood@example.com")
    headers = bearer(login(client, user.email)["access_token"])
    limit = settings.mail_per_address_per_hour
    for _ in range(limit):
        assert client.post("/auth/verify-email/request", headers=headers).status_code == 202
    over = client.post("/auth/verify-email/request", headers=headers)
    assert over.status_code == 429, over.text
    assert over.json()["code"] == "MAIL_THROTTLED"
    assert 3500 < int(over.headers["retry-after"]) <= 3600
    assert len(mails_to(settings, user.email)) == limit
    # The address is stored as a digest only.
    digests = db.scalars(select(MailSlot.address_digest)).all()
    assert digests and all("@" not in d and "verify-flood" not in d for d in digests)
    # An hour later the oldest slot is free again.
    db.execute(
        update(MailSlot)
        .where(
            MailSlot.address_digest == address_digest(user.email, key=settings.signing_key),
            MailSlot.slot == 0,
        )
        .values(sent_at=datetime.now(UTC) - timedelta(hours=1, seconds=1))
    )
    db.commit()
    assert client.post("/auth/verify-email/request", headers=headers).status_code == 202
    assert client.post("/auth/verify-email/request", headers=headers).status_code == 429


@pytest.fixture
def committed_user(session_factory, password_hash: str, settings):
    """A user committed for real: concurrent requests need their own sessions."""
    email = "flood-target@example.com"
    with committed(session_factory, email=email, hashed_password=password_hash, name="Target"):
        yield email
    with session_factory() as session:
        digest = address_digest(email, key=settings.signing_key)
        session.execute(delete(MailSlot).where(MailSlot.address_digest == digest))
        session.commit()


def test_concurrent_forgot_password_sends_exactly_the_limit(committed_user: str, settings) -> None:
    assert settings.mail_per_address_per_hour == 3
    before = len(mails_to(settings, committed_user))
    statuses: Counter[int] = Counter()
    barrier = threading.Barrier(25)
    with TestClient(create_app(settings)) as client:

        def worker() -> None:
            barrier.wait()
            response = client.post("/auth/forgot-password", json={"email": committed_user})
            statuses[response.status_code] += 1

        threads = [threading.Thread(target=worker) for _ in range(25)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert statuses == {202: 25}
    assert len(mails_to(settings, committed_user)) - before == 3
