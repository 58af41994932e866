"""Register, login (JSON and form), tokens and their failure modes, refresh rotation, logout."""

import base64
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.core import security
from app.core.config import Settings
from app.core.security import create_token
from app.main import create_app
from app.users.models import User
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.mail import mails_to


def test_register_returns_private_user_and_mails_welcome(client: TestClient, settings) -> None:
    response = client.post(
        "/auth/register",
        json={"email": "New.Person@Example.COM", "password": "longenough1", "name": "New"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "email",
        "email_verified",
        "name",
        "bio",
        "avatar_url",
        "is_admin",
        "created_at",
    }
    assert body["email"] == "new.person@example.com"
    assert body["is_admin"] is False and body["email_verified"] is False
    assert body["created_at"].endswith(("Z", "+00:00"))
    welcome = mails_to(settings, "new.person@example.com")
    assert len(welcome) == 1 and "Welcome" in welcome[0]["Subject"]


def test_register_same_email_any_case_is_409(client: TestClient, make_user) -> None:
    make_user("taken@example.com")
    response = client.post(
        "/auth/register",
        json={"email": "TAKEN@example.com", "password": "longenough1", "name": "X"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "EMAIL_TAKEN"


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "a@example.com", "password": "short", "name": "A"},
        {"email": "a@example.com", "password": "x" * 129, "name": "A"},
        {"email": "not-an-email", "password": "longenough1", "name": "A"},
        {"email": ("a" * 64 + ".") * 4 + "@example.com", "password": "longenough1", "name": "A"},
        {"email": "a@example.com", "password": "longenough1", "name": ""},
        {"email": "a@example.com", "password": "longenough1", "name": "A", "is_admin": True},
        {"email": "a@example.com", "password": "longenough1", "name": "A", "id": 7},
    ],
)
def test_register_rejects_bad_input(client: TestClient, db: Session, payload: dict) -> None:
    response = client.post("/auth/register", json=payload)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"
    assert db.scalar(select(User).where(User.email == "a@example.com")) is None


def test_mail_failure_does_not_fail_register(client: TestClient, settings, monkeypatch) -> None:
    monkeypatch.setattr(settings, "mail_backend", "smtp")
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", 1)
    response = client.post(
        "/auth/register", json={"email": "m@example.com", "password": "longenough1", "name": "M"}
    )
    assert response.status_code == 201


def test_login_answers_tokens_and_user(client: TestClient, make_user, settings) -> None:
    user = make_user("login@example.com")
    body = login(client, "LOGIN@example.com")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_expire_minutes * 60
    assert body["user"]["email"] == user.email
    me = client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user.id
    log = Path(settings.login_log_file).read_text()
    assert re.search(
        r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] LOGIN SUCCESS — Email: login@example.com — IP: \S+$",
        log,
        re.M,
    )
    assert PASSWORD not in log


def test_unknown_email_and_wrong_password_look_the_same(
    client: TestClient, make_user, settings, monkeypatch
) -> None:
    make_user("real@example.com")
    verified: list[str] = []
    original = security.pwd_context.verify_and_update

    def spy(secret, hashed):
        verified.append(hashed)
        return original(secret, hashed)

    monkeypatch.setattr(security.pwd_context, "verify_and_update", spy)
    wrong = client.post("/auth/login", json={"email": "real@example.com", "password": "nope-nope"})
    unknown = client.post("/auth/login", json={"email": "ghost@example.com", "password": "nope"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "INVALID_CREDENTIALS"
    assert wrong.json()["message"] == unknown.json()["message"]
    # The unknown email was still checked against a (dummy) argon2 hash: same work, same time.
    assert len(verified) == 2 and all(h.startswith("$argon2id$") for h in verified)
    log = Path(settings.login_log_file).read_text()
    assert "LOGIN FAILED — Email: ghost@example.com" in log


def test_oauth2_form_login(client: TestClient, make_user) -> None:
    make_user("form@example.com")
    ok = client.post("/auth/token", data={"username": "form@example.com", "password": PASSWORD})
    assert ok.status_code == 200
    assert set(ok.json()) == {"access_token", "token_type"}
    assert client.get("/users/me", headers=bearer(ok.json()["access_token"])).status_code == 200
    bad = client.post("/auth/token", data={"username": "form@example.com", "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["code"] == "INVALID_CREDENTIALS"


def test_bcrypt_hash_is_verified_and_upgraded(client: TestClient, make_user, db: Session) -> None:
    import bcrypt

    user = make_user("old@example.com")
    user.hashed_password = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    db.commit()
    login(client, "old@example.com")
    db.refresh(user)
    assert user.hashed_password.startswith("$argon2id$")


def _alg_none_token(user_id: int) -> str:
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {
        "sub": str(user_id),
        "type": "access",
        "aud": "quill:access",
        "iat": 1,
        "exp": 4_000_000_000,
        "jti": "x",
        "ver": 0,
    }
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def test_bad_access_tokens_are_401(
    client: TestClient, make_user, db: Session, settings: Settings
) -> None:
    user = make_user("tok@example.com")
    tokens = login(client, user.email)
    good = tokens["access_token"]
    expired, _ = create_token(
        user.id,
        "access",
        account=user.uid,
        version=0,
        lifetime=timedelta(seconds=-10),
        key=settings.signing_key,
    )
    wrong_key = create_token(
        user.id,
        "access",
        account=user.uid,
        version=0,
        lifetime=timedelta(minutes=5),
        key=settings.signing_key,
    )[0]
    header, payload, signature = wrong_key.split(".")
    tampered_payload = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered_payload["sub"] = str(user.id + 1000)
    forged = ".".join(
        [
            header,
            base64.urlsafe_b64encode(json.dumps(tampered_payload).encode()).rstrip(b"=").decode(),
            signature,
        ]
    )
    reset, _ = create_token(
        user.id,
        "reset",
        account=user.uid,
        version=0,
        lifetime=timedelta(minutes=5),
        key=settings.signing_key,
    )
    verify, _ = create_token(
        user.id,
        "verify",
        account=user.uid,
        version=0,
        lifetime=timedelta(minutes=5),
        key=settings.signing_key,
    )
    candidates = {
        "expired": expired,
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "forged claims": forged,
        "alg none": _alg_none_token(user.id),
        "refresh as access": tokens["refresh_token"],
        "reset as access": reset,
        "verify as access": verify,
        "garbage": "not.a.token",
    }
    for label, token in candidates.items():
        response = client.get("/users/me", headers=bearer(token))
        assert response.status_code == 401, label
        assert response.json()["code"] == "INVALID_TOKEN", label
        assert response.headers["www-authenticate"] == "Bearer", label
    assert client.get("/users/me", headers=bearer(good)).status_code == 200


def test_missing_credentials_is_401(client: TestClient) -> None:
    response = client.get("/users/me")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    assert response.headers["www-authenticate"] == "Bearer"


def test_deleted_users_token_stops_working(client: TestClient, make_user, db: Session) -> None:
    user = make_user("gone@example.com")
    token = login(client, user.email)["access_token"]
    db.delete(user)
    db.commit()
    assert client.get("/users/me", headers=bearer(token)).status_code == 401


def test_refresh_rotates_and_replay_revokes_family(client: TestClient, make_user) -> None:
    user = make_user("rot@example.com")
    first = login(client, user.email)
    rotated = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/users/me", headers=bearer(second["access_token"])).status_code == 200
    # The used token no longer works, and presenting it ends the whole family...
    replay = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and replay.json()["code"] == "INVALID_TOKEN"
    # ...including the token that was legitimately issued after it.
    after = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    # Another session of the same user is untouched.
    other = login(client, user.email)
    assert (
        client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code
        == 200
    )


def test_refresh_rejects_access_and_unknown_tokens(client: TestClient, make_user) -> None:
    user = make_user("rr@example.com")
    tokens = login(client, user.email)
    for token in (tokens["access_token"], "garbage"):
        response = client.post("/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401


def test_logout_revokes_the_refresh_token(client: TestClient, make_user) -> None:
    user = make_user("out@example.com")
    tokens = login(client, user.email)
    assert (
        client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 204
    )
    again = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401
    assert client.post("/auth/logout", json={"refresh_token": "unknown"}).status_code == 204


def test_tokens_are_signed_with_the_serving_apps_key(
    client: TestClient, make_user, db: Session, database, settings: Settings, storage
) -> None:
    """The signing key is the app's setting, not the process's: another key, another signer."""
    user = make_user("two-keys@example.com")
    headers = bearer(login(client, user.email)["access_token"])
    other_key = settings.model_copy(update={"secret_key": "another-test-secret-key-0123456789abc"})
    other = create_app(other_key, database=database, storage=storage)
    other.dependency_overrides[get_db] = lambda: db
    with TestClient(other, raise_server_exceptions=False) as other_client:
        assert other_client.get("/users/me", headers=headers).status_code == 401
    assert client.get("/users/me", headers=headers).status_code == 200
