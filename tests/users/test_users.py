"""Profiles, API keys, listing, deletion, admins, the create-admin command, registration races."""

import io
import threading
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import cli as cli
from app.auth.models import ApiKey, LoginAttempt, RefreshToken
from app.users import service as users
from app.users.errors import EmailTakenError
from app.users.models import User
from app.users.schemas import UserCreate
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.db import Borrowed


def test_me_and_profile_update(user_client) -> None:
    client, user, headers = user_client
    me = client.get("/users/me", headers=headers).json()
    assert me["email"] == user.email and me["name"] == "Owner"
    updated = client.patch("/users/me", headers=headers, json={"name": "  Renamed ", "bio": "Hi"})
    assert updated.status_code == 200
    assert updated.json()["name"] == "Renamed" and updated.json()["bio"] == "Hi"
    assert client.patch("/users/me", headers=headers, json={"bio": None}).json()["bio"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {"is_admin": True},
        {"id": 99},
        {"email_verified": True},
        {"bio": "x" * 501},
        {"name": ""},
        {"created_at": "2020-01-01T00:00:00Z"},
    ],
)
def test_profile_update_rejects_mass_assignment(user_client, db: Session, payload) -> None:
    client, user, headers = user_client
    response = client.patch("/users/me", headers=headers, json=payload)
    assert response.status_code == 422
    db.refresh(user)
    assert user.is_admin is False and user.id != 99


def test_email_change_to_taken_is_409(user_client, make_user) -> None:
    client, _user, headers = user_client
    make_user("someone@example.com")
    body = {"email": "SOMEONE@example.com", "current_password": PASSWORD}
    response = client.patch("/users/me", headers=headers, json=body)
    assert response.status_code == 409 and response.json()["code"] == "EMAIL_TAKEN"


def test_public_profiles_never_show_email(user_client, make_user) -> None:
    client, _user, headers = user_client
    other = make_user("hidden@example.com", name="Other")
    one = client.get(f"/users/{other.id}", headers=headers)
    assert one.status_code == 200
    assert set(one.json()) == {"id", "name", "bio", "avatar_url", "created_at"}
    listing = client.get("/users", headers=headers).json()
    assert all("email" not in item for item in listing["data"])
    assert "hidden@example.com" not in str(listing)
    assert client.get("/users/999999", headers=headers).status_code == 404
    assert client.get("/users").status_code == 401


def test_users_page_maths(user_client, make_user) -> None:
    client, _user, headers = user_client
    for _ in range(24):
        make_user()
    page = client.get("/users?page=2&per_page=10", headers=headers).json()
    assert (page["total"], page["page"], page["per_page"], page["total_pages"]) == (25, 2, 10, 3)
    assert page["has_next"] is True and page["has_prev"] is True and len(page["data"]) == 10
    last = client.get("/users?page=3&per_page=10", headers=headers).json()
    assert len(last["data"]) == 5 and last["has_next"] is False
    past = client.get("/users?page=9&per_page=10", headers=headers).json()
    assert past["data"] == [] and past["total"] == 25 and past["has_next"] is False
    first = client.get("/users?per_page=100", headers=headers).json()
    ids = [item["id"] for item in first["data"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    for bad in ("page=0", "per_page=0", "per_page=101", "page=x"):
        response = client.get(f"/users?{bad}", headers=headers)
        assert response.status_code == 422 and response.json()["code"] == "VALIDATION_FAILED"


def test_api_key_lifecycle(user_client, db: Session) -> None:
    client, user, headers = user_client
    created = client.post("/users/me/api-keys", headers=headers, json={"name": "ci"})
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith("qk_") and body["prefix"] == key[:10] and body["last_used_at"] is None
    stored = db.scalar(select(ApiKey).where(ApiKey.id == body["id"]))
    assert key not in (stored.key_digest, stored.prefix)  # only a digest is kept
    me = client.get("/users/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["id"] == user.id
    listing = client.get("/users/me/api-keys", headers={"X-API-Key": key}).json()
    assert listing["total"] == 1 and "key" not in listing["data"][0]
    assert listing["data"][0]["last_used_at"] is not None
    assert client.get("/users/me", headers={"X-API-Key": key + "x"}).status_code == 401
    assert client.delete(f"/users/me/api-keys/{body['id']}", headers=headers).status_code == 204
    assert client.get("/users/me", headers={"X-API-Key": key}).status_code == 401


def test_cannot_revoke_someone_elses_key(client: TestClient, make_user) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    alice_h = bearer(login(client, alice.email)["access_token"])
    bob_h = bearer(login(client, bob.email)["access_token"])
    key_id = client.post("/users/me/api-keys", headers=alice_h, json={"name": "a"}).json()["id"]
    assert client.delete(f"/users/me/api-keys/{key_id}", headers=bob_h).status_code == 404
    assert client.get("/users/me/api-keys", headers=alice_h).json()["total"] == 1


def test_delete_me_removes_everything(user_client, db: Session) -> None:
    client, user, headers = user_client
    client.post("/users/me/api-keys", headers=headers, json={"name": "k"})
    user_id = user.id
    assert client.delete("/users/me", headers=headers).status_code == 204
    assert client.get("/users/me", headers=headers).status_code == 401
    db.expire_all()
    assert db.get(User, user_id) is None
    for model in (ApiKey, RefreshToken):
        assert (
            db.scalar(select(func.count()).select_from(model).where(model.user_id == user_id)) == 0
        )


def test_admin_delete_user(client: TestClient, make_user, db: Session) -> None:
    admin = make_user("admin@example.com", is_admin=True)
    victim = make_user("victim@example.com")
    plain = make_user("plain@example.com")
    plain_h = bearer(login(client, plain.email)["access_token"])
    admin_h = bearer(login(client, admin.email)["access_token"])
    forbidden = client.delete(f"/users/{victim.id}", headers=plain_h)
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "ADMIN_REQUIRED"
    assert client.delete(f"/users/{victim.id}", headers=admin_h).status_code == 204
    assert client.delete(f"/users/{victim.id}", headers=admin_h).status_code == 404
    assert client.get("/users/me", headers=admin_h).json()["is_admin"] is True


def test_create_admin_command_creates_and_promotes(
    db: Session, monkeypatch, make_user, settings
) -> None:
    def borrowed() -> Borrowed:
        return Borrowed(db)

    monkeypatch.setattr("sys.stdin", io.StringIO("admin-password-1\n"))
    argv = ["create-admin", "--email", "Boss@Example.com", "--password-stdin"]
    assert cli.main(argv, sessions=borrowed, settings=settings) == 0
    boss = db.scalar(select(User).where(User.email == "boss@example.com"))
    assert boss is not None and boss.is_admin is True
    existing = make_user("promote@example.com")
    assert (
        cli.main(
            ["create-admin", "--email", "promote@example.com"], sessions=borrowed, settings=settings
        )
        == 0
    )
    db.refresh(existing)
    assert existing.is_admin is True
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    argv = ["create-admin", "--email", "weak@example.com", "--password-stdin"]
    assert cli.main(argv, sessions=borrowed, settings=settings) == 2


def test_simultaneous_registrations_give_one_winner(session_factory) -> None:
    """Real sessions on real connections: the unique index settles the race."""
    email = f"race-{datetime.now(UTC).timestamp()}@example.com"
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt() -> None:
        with session_factory() as session:
            barrier.wait()
            try:
                users.create_user(
                    session, data=UserCreate(email=email, password="racing-pass", name="R")
                )
                outcomes.append("created")
            except EmailTakenError:
                outcomes.append("taken")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert sorted(outcomes) == ["created", "taken", "taken", "taken"]
    finally:
        with session_factory() as session:
            for row in session.scalars(select(User).where(User.email == email)):
                session.delete(row)
            session.query(LoginAttempt).filter(LoginAttempt.email == email).delete()
            session.commit()
