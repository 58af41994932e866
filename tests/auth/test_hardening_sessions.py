"""Issue 9, findings 15 and 16 (parts): ended sessions stop their access tokens at once, tokens
with odd claims are a 401 (never a 500), and answers carrying credentials are not cached."""

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.security import ALGORITHM
from tests.utils.accounts import PASSWORD, bearer, login


def _me(client: TestClient, tokens: dict) -> int:
    return client.get("/users/me", headers=bearer(tokens["access_token"])).status_code


def test_logout_ends_the_sessions_access_token_at_once(client: TestClient, make_user) -> None:
    user = make_user("bye@example.com")
    ending, other = login(client, user.email), login(client, user.email)
    assert _me(client, ending) == 200
    out = client.post("/auth/logout", json={"refresh_token": ending["refresh_token"]})
    assert out.status_code == 204
    assert _me(client, ending) == 401
    assert _me(client, other) == 200  # only that session ended


def test_refresh_replay_ends_every_access_token_of_the_family(
    client: TestClient, make_user
) -> None:
    user = make_user("replay@example.com")
    first = login(client, user.email)
    other = login(client, user.email)
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert _me(client, first) == 200 and _me(client, second) == 200
    replay = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert _me(client, first) == 401 and _me(client, second) == 401
    assert _me(client, other) == 200


def test_password_change_ends_oauth2_form_sessions_too(client: TestClient, make_user) -> None:
    user = make_user("form@example.com")
    form = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert form.status_code == 200
    headers = bearer(form.json()["access_token"])
    assert client.get("/users/me", headers=headers).status_code == 200
    changed = client.patch(
        "/users/me/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
    )
    assert changed.status_code == 204
    assert client.get("/users/me", headers=headers).status_code == 401


def test_access_token_is_checked_in_one_statement(
    client: TestClient, make_user, db: Session
) -> None:
    """The session check must not cost GET /users/me a second round trip."""
    user = make_user("fast@example.com")
    headers = bearer(login(client, user.email)["access_token"])
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    connection = db.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        assert client.get("/users/me", headers=headers).status_code == 200
    finally:
        event.remove(connection, "before_cursor_execute", record)
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 1, statements


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/auth/login", {"json": {"email": "cache@example.com", "password": PASSWORD}}),
        ("/auth/token", {"data": {"username": "cache@example.com", "password": PASSWORD}}),
        ("refresh", {}),
        ("api-key", {}),
    ],
)
def test_answers_with_credentials_are_not_cached(
    client: TestClient, make_user, path: str, kwargs: dict
) -> None:
    user = make_user("cache@example.com")
    if path == "refresh":
        refresh_token = login(client, user.email)["refresh_token"]
        response = client.post("/auth/refresh", json={"refresh_token": refresh_token})
    elif path == "api-key":
        headers = bearer(login(client, user.email)["access_token"])
        response = client.post("/users/me/api-keys", headers=headers, json={"name": "k"})
    else:
        response = client.post(path, **kwargs)
    assert response.status_code in (200, 201), response.text
    assert response.headers["cache-control"] == "no-store"


# --- validly signed tokens with odd claims --------------------------------------------------------

ODD_CLAIMS: dict[str, dict[str, Any] | str] = {
    "exp as a word": {"exp": "soon"},
    "exp as a numeric string": {"exp": "4000000000"},
    "exp as a list": {"exp": [4_000_000_000]},
    "exp beyond datetime": {"exp": 10**30},
    "iat as a string": {"iat": "1"},
    "iat beyond datetime": {"iat": 10**20},
    "sub huge": {"sub": str(10**30)},
    "sub huge int": {"sub": 10**30},
    "sub negative": {"sub": "-1"},
    "sub not a number": {"sub": "abc"},
    "ver as a list": {"ver": [0]},
    "ver huge": {"ver": 10**30},
    "ver as a string": {"ver": "0"},
    "uid of another shape": {"uid": ["x"]},
    "sid as a number": {"sid": 7},
    "jti as an object": {"jti": {"a": 1}},
    "email as a list": {"email": ["a@b.c"]},
    "missing sid": "sid",
    "missing uid": "uid",
    "missing ver": "ver",
}


def _sign(claims: dict[str, Any], settings) -> str:
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def _odd(base: dict[str, Any], change: dict[str, Any] | str) -> dict[str, Any]:
    claims = dict(base)
    if isinstance(change, str):
        claims.pop(change, None)
    else:
        claims.update(change)
    return claims


@pytest.mark.parametrize("label", list(ODD_CLAIMS))
def test_odd_claims_in_a_signed_access_token_are_401(
    client: TestClient, make_user, settings, label: str
) -> None:
    user = make_user("odd@example.com")
    tokens = login(client, user.email)
    base = jwt.get_unverified_claims(tokens["access_token"])
    base["exp"] = int(time.time()) + 600
    assert client.get("/users/me", headers=bearer(_sign(base, settings))).status_code == 200
    response = client.get(
        "/users/me", headers=bearer(_sign(_odd(base, ODD_CLAIMS[label]), settings))
    )
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize("label", list(ODD_CLAIMS))
def test_odd_claims_in_refresh_and_reset_tokens_are_4xx(
    client: TestClient, make_user, settings, label: str
) -> None:
    user = make_user("odd2@example.com")
    refresh = jwt.get_unverified_claims(login(client, user.email)["refresh_token"])
    odd_refresh = _sign(_odd(refresh, ODD_CLAIMS[label]), settings)
    response = client.post("/auth/refresh", json={"refresh_token": odd_refresh})
    assert response.status_code == 401, response.text
    reset = {**refresh, "type": "reset", "aud": "quill:reset"}
    reset.pop("sid")
    odd_reset = _sign(_odd(reset, ODD_CLAIMS[label]), settings)
    response = client.post(
        "/auth/reset-password", json={"token": odd_reset, "new_password": "fresh-pass-1"}
    )
    if label == "missing sid":
        # A reset link has no session; this one is a well-formed, valid link.
        assert response.status_code == 204, response.text
        return
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_OR_EXPIRED_TOKEN"
