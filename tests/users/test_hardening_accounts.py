"""Issue 9, finding 4 (email change needs re-authentication) and parts of 16 (common passwords,
one email rule on every database)."""

import io
import unicodedata

import pytest
from fastapi.testclient import TestClient

from app.cli import main as cli
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.mail import mails_to, token_from_mail

# --- email change --------------------------------------------------------------------------------


def test_email_change_needs_current_password(user_client) -> None:
    client, _user, headers = user_client
    missing = client.patch("/users/me", headers=headers, json={"email": "thief@example.com"})
    assert missing.status_code == 403 and missing.json()["code"] == "REAUTH_REQUIRED"
    wrong = client.patch(
        "/users/me",
        headers=headers,
        json={"email": "thief@example.com", "current_password": "not-the-password"},
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "INVALID_CURRENT_PASSWORD"
    me = client.get("/users/me", headers=headers).json()
    assert me["email"] == "owner@example.com"
    # Other profile changes, and sending the unchanged address, need nothing more.
    same = client.patch(
        "/users/me", headers=headers, json={"email": "OWNER@example.com", "name": "Renamed"}
    )
    assert same.status_code == 200 and same.json()["name"] == "Renamed"


def test_api_key_cannot_change_email_but_can_change_name(user_client) -> None:
    client, _user, headers = user_client
    key = client.post("/users/me/api-keys", headers=headers, json={"name": "ci"}).json()["key"]
    key_headers = {"X-API-Key": key}
    response = client.patch(
        "/users/me",
        headers=key_headers,
        json={"email": "thief@example.com", "current_password": PASSWORD},
    )
    assert response.status_code == 403 and response.json()["code"] == "API_KEY_NOT_ALLOWED"
    renamed = client.patch("/users/me", headers=key_headers, json={"name": "Bot", "bio": "hi"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Bot"
    assert client.get("/users/me", headers=headers).json()["email"] == "owner@example.com"


def test_email_change_mails_old_and_new_address(client: TestClient, make_user, settings) -> None:
    user = make_user("before@example.com", name="Mover")
    headers = bearer(login(client, user.email)["access_token"])
    client.post("/auth/verify-email/request", headers=headers)
    old_link = token_from_mail(
        mails_to(settings, "before@example.com")[-1], "/verify-email", settings
    )
    assert client.post("/auth/verify-email", json={"token": old_link}).status_code == 204
    before_old = len(mails_to(settings, "before@example.com"))

    changed = client.patch(
        "/users/me",
        headers=headers,
        json={"email": "After@Example.com", "current_password": PASSWORD},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "after@example.com"
    assert changed.json()["email_verified"] is False

    notices = mails_to(settings, "before@example.com")[before_old:]
    assert len(notices) == 1
    notice = notices[0].get_payload(decode=True).decode()
    assert "after@example.com" in notice and "token=" not in notice
    to_new = mails_to(settings, "after@example.com")
    assert len(to_new) == 1
    token = token_from_mail(to_new[0], "/verify-email", settings)
    assert client.post("/auth/verify-email", json={"token": token}).status_code == 204
    assert client.get("/users/me", headers=headers).json()["email_verified"] is True


# --- common passwords, and not the email ----------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["password", "12345678", "Password1", "iloveyou", "qwertyuiop"]
)
def test_register_refuses_common_passwords(client: TestClient, password: str) -> None:
    body = {"email": "common@example.com", "password": password, "name": "C"}
    response = client.post("/auth/register", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "PASSWORD_TOO_COMMON"
    assert response.json()["errors"][0]["field"] == "body → password"


def test_register_refuses_the_email_as_password(client: TestClient) -> None:
    body = {"email": "same.as.pw@example.com", "password": "Same.As.PW@example.com", "name": "S"}
    response = client.post("/auth/register", json=body)
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_FAILED"
    assert response.json()["errors"][0]["type"] == "password_equals_email"


def test_password_change_refuses_common_and_email(user_client) -> None:
    client, user, headers = user_client
    for new, code in (("football", "PASSWORD_TOO_COMMON"), (user.email, "VALIDATION_FAILED")):
        response = client.patch(
            "/users/me/password",
            headers=headers,
            json={"current_password": PASSWORD, "new_password": new},
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code and response.json()["errors"]
    login(client, user.email)  # the password is unchanged


def test_reset_refuses_common_and_email(client: TestClient, make_user, settings) -> None:
    user = make_user("resetter@example.com")
    assert client.post("/auth/forgot-password", json={"email": user.email}).status_code == 202
    token = token_from_mail(mails_to(settings, user.email)[-1], "/reset-password", settings)
    common = client.post("/auth/reset-password", json={"token": token, "new_password": "sunshine"})
    assert common.status_code == 422 and common.json()["code"] == "PASSWORD_TOO_COMMON"
    email = client.post(
        "/auth/reset-password", json={"token": token, "new_password": "RESETTER@example.com"}
    )
    assert email.status_code == 422 and email.json()["errors"][0]["type"] == "password_equals_email"
    # The token is still good for an acceptable password.
    ok = client.post("/auth/reset-password", json={"token": token, "new_password": "a-fine-one-9"})
    assert ok.status_code == 204


def test_create_admin_refuses_common_password(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    session_factory,
    settings,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("password1\n"))
    argv = ["create-admin", "--email", "admin-common@example.com", "--password-stdin"]
    code = cli(argv, sessions=session_factory, settings=settings)
    assert code == 2
    assert "common" in capsys.readouterr().err


# --- one email rule on every database -------------------------------------------------------------


def _register(client: TestClient, email: str):
    body = {"email": email, "password": "a-long-passphrase", "name": "E"}
    return client.post("/auth/register", json=body)


def test_accented_and_plain_addresses_are_two_accounts(client: TestClient) -> None:
    # MariaDB's utf8mb4_unicode_ci made these one address; everywhere they are two.
    assert _register(client, "xé@example.com").status_code == 201
    assert _register(client, "xe@example.com").status_code == 201
    assert _register(client, "XE@example.com").json()["code"] == "EMAIL_TAKEN"
    nfd = unicodedata.normalize("NFD", "xé@example.com")
    assert nfd != "xé@example.com"
    taken = _register(client, nfd)
    assert taken.status_code == 409 and taken.json()["code"] == "EMAIL_TAKEN"
    assert _register(client, "XÉ@EXAMPLE.COM").status_code == 409
    # Logging in with either form finds the one account.
    response = client.post("/auth/login", json={"email": nfd, "password": "a-long-passphrase"})
    assert response.status_code == 200
    assert response.json()["user"]["email"] == "xé@example.com"
    form = {"username": nfd.upper(), "password": "a-long-passphrase"}
    assert client.post("/auth/token", data=form).status_code == 200
