"""Issue 9, findings 1 and 3: nothing issued to an account works for another (even one that gets
its id later), ids are not reused on SQLite, and API keys cannot manage credentials."""

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from app.uploads.models import Upload
from app.users.models import User
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.mail import mails_to, token_from_mail


def _register(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    response = client.post(
        "/auth/register", json={"email": email, "password": password, "name": "N"}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _new_key(client: TestClient, headers: dict[str, str]) -> dict:
    created = client.post("/users/me/api-keys", headers=headers, json={"name": "k"})
    assert created.status_code == 201, created.text
    return created.json()


def test_deleted_accounts_credentials_do_not_work_for_the_account_that_gets_its_id(
    client: TestClient, db: Session, settings, password_hash: str
) -> None:
    attacker = _register(client, "attacker@example.com")
    tokens = login(client, "attacker@example.com")
    headers = bearer(tokens["access_token"])
    assert (
        client.post("/auth/forgot-password", json={"email": attacker["email"]}).status_code == 202
    )
    reset = token_from_mail(mails_to(settings, attacker["email"])[-1], "/reset-password", settings)
    assert client.post("/auth/verify-email/request", headers=headers).status_code == 202
    verify = token_from_mail(mails_to(settings, attacker["email"])[-1], "/verify-email", settings)
    key = _new_key(client, headers)["key"]
    assert client.delete("/users/me", headers=headers).status_code == 204

    # The victim gets the attacker's old id: SQLite used to hand it out again; elsewhere it is
    # given explicitly, so this proves the binding on every database.
    victim = User(
        id=attacker["id"], email="victim@example.com", hashed_password=password_hash, name="V"
    )
    db.add(victim)
    db.commit()

    me = client.get("/users/me", headers=headers)
    assert me.status_code == 401 and me.json()["code"] == "INVALID_TOKEN"
    assert client.get("/users/me", headers={"X-API-Key": key}).status_code == 401
    refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    taken = client.post("/auth/reset-password", json={"token": reset, "new_password": "pwned-1234"})
    assert taken.status_code == 400 and taken.json()["code"] == "INVALID_OR_EXPIRED_TOKEN"
    assert client.post("/auth/verify-email", json={"token": verify}).status_code == 400
    # The victim's own account is untouched.
    victim_tokens = login(client, "victim@example.com")
    mine = client.get("/users/me", headers=bearer(victim_tokens["access_token"])).json()
    assert mine["email"] == "victim@example.com" and mine["email_verified"] is False


def test_sqlite_never_reuses_the_newest_rows_id(client: TestClient, db: Session, make_user) -> None:
    if db.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL sequences and MariaDB AUTO_INCREMENT never hand an id out twice
    first = _register(client, "first@example.com")
    headers = bearer(login(client, "first@example.com")["access_token"])
    assert client.delete("/users/me", headers=headers).status_code == 204
    second = _register(client, "second@example.com")
    assert second["id"] > first["id"]

    headers = bearer(login(client, "second@example.com")["access_token"])
    post = client.post("/posts", headers=headers, json={"title": "T", "content": "c"}).json()
    assert client.delete(f"/posts/{post['id']}", headers=headers).status_code == 204
    again = client.post("/posts", headers=headers, json={"title": "T", "content": "c"}).json()
    assert again["id"] > post["id"]

    key = _new_key(client, headers)
    assert client.delete(f"/users/me/api-keys/{key['id']}", headers=headers).status_code == 204
    assert _new_key(client, headers)["id"] > key["id"]

    owner = make_user()

    def upload() -> Upload:
        row = Upload(
            owner_id=owner.id,
            kind="upload",
            filename=f"{uuid.uuid4().hex}.png",
            original_name="a.png",
            content_type="image/png",
            size=1,
            sha256="0" * 64,
        )
        db.add(row)
        db.commit()
        return row

    old = upload()
    old_id = old.id
    db.delete(old)
    db.commit()
    assert upload().id > old_id


def test_api_key_of_a_deleted_account_does_not_work_for_the_next_one(
    client: TestClient, db: Session, make_user, password_hash: str
) -> None:
    first = make_user("keyed@example.com")
    first_id = first.id
    key = _new_key(client, bearer(login(client, first.email)["access_token"]))["key"]
    db.delete(first)
    db.commit()
    assert db.scalar(select(ApiKey).where(ApiKey.user_id == first_id)) is None
    db.add(User(id=first_id, email="next@example.com", hashed_password=password_hash, name="N"))
    db.commit()
    assert client.get("/users/me", headers={"X-API-Key": key}).status_code == 401


def test_api_keys_cannot_manage_credentials(client: TestClient, make_user) -> None:
    user = make_user("manager@example.com")
    headers = bearer(login(client, user.email)["access_token"])
    created = _new_key(client, headers)
    as_key = {"X-API-Key": created["key"]}
    attempts = {
        "create key": client.post("/users/me/api-keys", headers=as_key, json={"name": "more"}),
        "delete key": client.delete(f"/users/me/api-keys/{created['id']}", headers=as_key),
        "change password": client.patch(
            "/users/me/password",
            headers=as_key,
            json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
        ),
        "delete account": client.delete("/users/me", headers=as_key),
    }
    for label, response in attempts.items():
        assert response.status_code == 403, label
        assert response.json()["code"] == "API_KEY_NOT_ALLOWED", label
    # Nothing happened: the key, the password and the account are all still there.
    assert client.get("/users/me", headers=as_key).status_code == 200
    assert client.get("/users/me/api-keys", headers=headers).json()["total"] == 1
    login(client, user.email)


def test_password_change_revokes_every_api_key(client: TestClient, make_user) -> None:
    user = make_user("rotate@example.com")
    headers = bearer(login(client, user.email)["access_token"])
    keys = [_new_key(client, headers)["key"] for _ in range(2)]
    changed = client.patch(
        "/users/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
    )
    assert changed.status_code == 204
    for key in keys:
        assert client.get("/users/me", headers={"X-API-Key": key}).status_code == 401
    fresh = bearer(login(client, user.email, "brand-new-pass")["access_token"])
    assert client.get("/users/me/api-keys", headers=fresh).json()["total"] == 0


def test_password_reset_revokes_every_api_key(client: TestClient, make_user, settings) -> None:
    user = make_user("resetkeys@example.com")
    key = _new_key(client, bearer(login(client, user.email)["access_token"]))["key"]
    client.post("/auth/forgot-password", json={"email": user.email})
    token = token_from_mail(mails_to(settings, user.email)[-1], "/reset-password", settings)
    ok = client.post("/auth/reset-password", json={"token": token, "new_password": "fresh-pass-1"})
    assert ok.status_code == 204
    assert client.get("/users/me", headers={"X-API-Key": key}).status_code == 401
    fresh = bearer(login(client, user.email, "fresh-pass-1")["access_token"])
    assert client.get("/users/me/api-keys", headers=fresh).json()["total"] == 0
