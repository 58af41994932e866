"""Password change and reset, email verification, lockout."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth import links
from app.auth.models import LoginAttempt
from app.core.config import Settings
from app.core.security import create_token
from app.users import service as users
from app.users.schemas import UserCreate, UserUpdate
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.mail import mails_to, token_from_mail


def test_password_change_ends_every_session(client: TestClient, make_user) -> None:
    user = make_user("pw@example.com")
    tokens = login(client, user.email)
    headers = bearer(tokens["access_token"])
    wrong = client.patch(
        "/users/me/password",
        json={"current_password": "wrong-one", "new_password": "brand-new-pass"},
    )
    assert wrong.status_code == 401  # no credentials sent on that call
    wrong = client.patch(
        "/users/me/password",
        headers=headers,
        json={"current_password": "wrong-one", "new_password": "brand-new-pass"},
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "INVALID_CURRENT_PASSWORD"
    ok = client.patch(
        "/users/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
    )
    assert ok.status_code == 204
    assert client.get("/users/me", headers=headers).status_code == 401
    assert (
        client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )
    login(client, user.email, "brand-new-pass")


def test_forgot_password_is_202_either_way(client: TestClient, make_user, settings) -> None:
    make_user("forgot@example.com")
    for email in ("forgot@example.com", "nobody@example.com"):
        response = client.post("/auth/forgot-password", json={"email": email})
        assert response.status_code == 202
    assert len(mails_to(settings, "forgot@example.com")) == 1
    assert mails_to(settings, "nobody@example.com") == []


def test_reset_password_single_use_and_ends_sessions(
    client: TestClient, make_user, settings
) -> None:
    user = make_user("reset@example.com")
    session_tokens = login(client, user.email)
    client.post("/auth/forgot-password", json={"email": user.email})
    token = token_from_mail(mails_to(settings, user.email)[-1], "/reset-password", settings)
    # Good for nothing else:
    assert client.get("/users/me", headers=bearer(token)).status_code == 401
    assert client.post("/auth/verify-email", json={"token": token}).status_code == 400
    ok = client.post("/auth/reset-password", json={"token": token, "new_password": "fresh-pass-1"})
    assert ok.status_code == 204
    again = client.post(
        "/auth/reset-password", json={"token": token, "new_password": "other-pass-2"}
    )
    assert again.status_code == 400 and again.json()["code"] == "INVALID_OR_EXPIRED_TOKEN"
    assert (
        client.get("/users/me", headers=bearer(session_tokens["access_token"])).status_code == 401
    )
    login(client, user.email, "fresh-pass-1")


def test_reset_rejects_expired_and_foreign_tokens(
    client: TestClient, make_user, settings: Settings
) -> None:
    user = make_user("exp@example.com")
    expired, _ = create_token(
        user.id,
        "reset",
        account=user.uid,
        version=0,
        lifetime=timedelta(seconds=-1),
        key=settings.signing_key,
    )
    access = login(client, user.email)["access_token"]
    long_lived, _ = create_token(
        user.id,
        "reset",
        account=user.uid,
        version=0,
        lifetime=timedelta(minutes=31),
        key=settings.signing_key,
    )
    for token in (expired, access, "garbage"):
        response = client.post(
            "/auth/reset-password", json={"token": token, "new_password": "fresh-pass-1"}
        )
        assert response.status_code == 400, token
    # Tokens we issue live 30 minutes.
    from app.core.security import RESET_TOKEN_MINUTES, decode_token

    assert RESET_TOKEN_MINUTES == 30
    claims = decode_token(long_lived, "reset", key=settings.signing_key)
    assert claims.expires_at - claims.issued_at == timedelta(minutes=31)


def test_email_verification_and_reset_on_change(client: TestClient, user_client, settings) -> None:
    client, user, headers = user_client
    assert client.post("/auth/verify-email/request").status_code == 401
    assert client.post("/auth/verify-email/request", headers=headers).status_code == 202
    token = token_from_mail(mails_to(settings, user.email)[-1], "/verify-email", settings)
    assert client.post("/auth/verify-email", json={"token": token}).status_code == 204
    assert client.get("/users/me", headers=headers).json()["email_verified"] is True
    # Changing the email un-verifies, and the old link is void for the new address.
    changed = client.patch(
        "/users/me",
        headers=headers,
        json={"email": "New@Example.com", "current_password": PASSWORD},
    )
    assert changed.status_code == 200
    assert changed.json()["email"] == "new@example.com"
    assert changed.json()["email_verified"] is False
    assert client.post("/auth/verify-email", json={"token": token}).status_code == 400


def test_lockout_after_max_failures_then_expiry(
    client: TestClient, make_user, db: Session, settings
) -> None:
    user = make_user("lock@example.com")
    for _ in range(settings.login_max_failures):
        bad = client.post("/auth/login", json={"email": user.email, "password": "wrong-pass"})
        assert bad.status_code == 401
    locked = client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["code"] == "TOO_MANY_LOGIN_ATTEMPTS"
    retry_after = int(locked.headers["retry-after"])
    assert 0 < retry_after <= settings.login_lockout_minutes * 60
    form = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert form.status_code == 429
    # Other emails are not affected.
    other = make_user("free@example.com")
    login(client, other.email)
    # Once the window has passed, the right password works again.
    past = datetime.now(UTC) - timedelta(minutes=settings.login_lockout_minutes + 1)
    db.execute(update(LoginAttempt).where(LoginAttempt.email == user.email).values(created_at=past))
    db.commit()
    login(client, user.email)


def test_unknown_email_is_locked_out_too(client: TestClient, settings) -> None:
    for _ in range(settings.login_max_failures):
        client.post("/auth/login", json={"email": "ghost@example.com", "password": "x"})
    response = client.post("/auth/login", json={"email": "ghost@example.com", "password": "x"})
    assert response.status_code == 429


def test_success_resets_the_failure_count(client: TestClient, make_user, settings) -> None:
    user = make_user("reset-count@example.com")
    for _ in range(settings.login_max_failures - 1):
        client.post("/auth/login", json={"email": user.email, "password": "wrong-pass"})
    login(client, user.email)
    for _ in range(settings.login_max_failures - 1):
        client.post("/auth/login", json={"email": user.email, "password": "wrong-pass"})
    login(client, user.email)


class RecordingHooks:
    """AccountHooks that write down what the services reported, and send nothing."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def on_after_register(self, user) -> None:
        self.events.append(("register", user.email))

    def on_after_email_change(self, user, *, old_email: str) -> None:
        self.events.append(("email_change", old_email, user.email))

    def on_after_forgot_password(self, user, *, token: str) -> None:
        self.events.append(("forgot_password", user.email))

    def on_after_request_verify(self, user, *, token: str) -> None:
        self.events.append(("request_verify", user.email))


def test_services_report_account_events_to_the_hooks_they_are_given(
    db: Session, make_user, settings: Settings
) -> None:
    # The services say what happened; what follows (mail) is the hooks' business, so a caller
    # without a request (the CLI, a test) passes its own.
    hooks = RecordingHooks()
    user = make_user("events@example.com")
    links.request_password_reset(db, settings=settings, email="nobody@example.com", hooks=hooks)
    links.request_password_reset(db, settings=settings, email=user.email, hooks=hooks)
    links.request_verification(db, settings=settings, user=user, hooks=hooks)
    change = UserUpdate(email="moved@example.com", current_password=PASSWORD)
    users.update_profile(db, user=user, data=change, hooks=hooks)
    users.update_profile(db, user=user, data=UserUpdate(name="Same Address"), hooks=hooks)
    created = users.register(
        db, data=UserCreate(email="new@example.com", password="a-fine-pass", name="N"), hooks=hooks
    )
    assert hooks.events == [
        ("forgot_password", "events@example.com"),
        ("request_verify", "events@example.com"),
        ("email_change", "events@example.com", "moved@example.com"),
        ("register", created.email),
    ]
