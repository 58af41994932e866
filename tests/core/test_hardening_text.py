"""Issue 9, findings 6 and 13 (username), names in 16: every text input refuses NUL, control
characters, lone surrogates, and bidi controls in names and titles, with the same 422 on every
database (PostgreSQL used to answer 500 for NUL)."""

import pytest
from fastapi.testclient import TestClient

from tests.utils.accounts import PASSWORD
from tests.utils.files import image_bytes

NUL = "\x00"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE


def assert_rejected(response, field: str, kind: str = "control_character") -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_FAILED", body
    assert any(e["field"].endswith(field) and e["type"] == kind for e in body["errors"]), body


def test_search_query_with_nul_is_422(client: TestClient) -> None:
    assert_rejected(client.get("/posts?q=%00"), "q")
    assert_rejected(client.get("/posts?q=a%0Ab"), "q")
    assert client.get("/posts?q=caf%C3%A9").status_code == 200


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (f"Mal{NUL}lory", "control_character"),
        ("Mal\r\nlory", "control_character"),
        ("Mallory\n", "control_character"),
        (f"Mal{RLO}lory", "bidi_control_character"),
        ("Mal\u2066lory", "bidi_control_character"),
        ("Mal\x85lory", "control_character"),
    ],
)
def test_register_refuses_bad_characters_in_name(client: TestClient, name: str, kind: str) -> None:
    body = {"email": "mallory@example.com", "password": "a-long-passphrase", "name": name}
    assert_rejected(client.post("/auth/register", json=body), "name", kind)


def test_register_refuses_nul_in_password_and_lone_surrogate(client: TestClient) -> None:
    body = {"email": "p@example.com", "password": f"a-long-pass{NUL}", "name": "P"}
    assert_rejected(client.post("/auth/register", json=body), "password")
    raw = '{"email": "p@example.com", "password": "a-long-passphrase", "name": "x\\ud800"}'
    response = client.post(
        "/auth/register", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_rejected(response, "name", "surrogate_character")


def test_passwords_may_hold_any_printable_character(client: TestClient) -> None:
    body = {"email": "sym@example.com", "password": "pä ss ✓ wörd €!", "name": "Sym"}
    assert client.post("/auth/register", json=body).status_code == 201


def test_token_form_username_with_nul_or_too_long_is_422(client: TestClient) -> None:
    nul = client.post("/auth/token", data={"username": f"a{NUL}@example.com", "password": "x"})
    assert_rejected(nul, "username")
    newline = client.post("/auth/token", data={"username": "a@b.c\nforged", "password": "x"})
    assert_rejected(newline, "username")
    long_name = "a" * 300 + "@x.com"  # 306 characters: reached a VARCHAR(254)
    too_long = client.post("/auth/token", data={"username": long_name, "password": "x"})
    assert too_long.status_code == 422 and too_long.json()["code"] == "VALIDATION_FAILED"
    nul_password = client.post("/auth/token", data={"username": "a@b.co", "password": NUL})
    assert_rejected(nul_password, "password")


def test_token_form_still_logs_in(user_client) -> None:
    client, user, _headers = user_client
    response = client.post(
        "/auth/token",
        data={"grant_type": "password", "username": user.email.upper(), "password": PASSWORD},
    )
    assert response.status_code == 200, response.text


def test_post_title_and_content(user_client) -> None:
    client, _user, headers = user_client

    def create(title: str, content: str):
        return client.post("/posts", headers=headers, json={"title": title, "content": content})

    assert_rejected(create(f"T{NUL}", "ok"), "title")
    assert_rejected(create("T\nsecond line", "ok"), "title")
    assert_rejected(create(f"{RLO}gnp.exe", "ok"), "title", "bidi_control_character")
    assert_rejected(create("T", f"body{NUL}"), "content")
    assert_rejected(create("T", "bell\x07"), "content")
    # Multi-line text keeps tab, CR and LF (and bidi marks are the writer's business there).
    made = create("Title", "line one\r\n\tline two\n" + RLO)
    assert made.status_code == 201, made.text
    post_id = made.json()["id"]
    patched = client.patch(f"/posts/{post_id}", headers=headers, json={"content": NUL})
    assert_rejected(patched, "content")


def test_profile_bio_and_name(user_client) -> None:
    client, _user, headers = user_client
    assert_rejected(client.patch("/users/me", headers=headers, json={"bio": f"b{NUL}"}), "bio")
    assert_rejected(client.patch("/users/me", headers=headers, json={"name": "A\rB"}), "name")
    ok = client.patch("/users/me", headers=headers, json={"bio": "two\nlines\tand a tab"})
    assert ok.status_code == 200 and ok.json()["bio"] == "two\nlines\tand a tab"


def test_api_key_name(user_client) -> None:
    client, _user, headers = user_client
    response = client.post("/users/me/api-keys", headers=headers, json={"name": f"k{NUL}"})
    assert_rejected(response, "name")
    response = client.post("/users/me/api-keys", headers=headers, json={"name": f"k{RLO}"})
    assert_rejected(response, "name", "bidi_control_character")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/auth/refresh", "refresh_token"),
        ("/auth/logout", "refresh_token"),
        ("/auth/verify-email", "token"),
    ],
)
def test_token_strings(client: TestClient, path: str, field: str) -> None:
    assert_rejected(client.post(path, json={field: f"abc{NUL}"}), field)


def test_reset_token_string(client: TestClient) -> None:
    body = {"token": f"abc{NUL}", "new_password": "a-long-passphrase"}
    assert_rejected(client.post("/auth/reset-password", json=body), "token")


def test_upload_description(user_client, storage) -> None:
    client, _user, headers = user_client
    png = image_bytes("PNG")
    for route, file_field in (("/uploads/image", "file"), ("/uploads", "files")):
        response = client.post(
            route,
            headers=headers,
            files={file_field: ("a.png", png, "image/png")},
            data={"description": f"nice{NUL}picture"},
        )
        assert_rejected(response, "description")
    # Nothing half-written: no row, no stored file, no temporary.
    assert client.get("/uploads", headers=headers).json()["total"] == 0
    assert list(storage.names()) == [] and list(storage.tmp_dir.iterdir()) == []
    fine = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("a.png", png, "image/png")},
        data={"description": "a fine picture"},
    )
    assert fine.status_code == 201 and fine.json()["description"] == "a fine picture"
