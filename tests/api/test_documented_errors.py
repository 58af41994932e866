"""The schema's error documentation is held to the wire: every documented (route, status, code)
is provoked over HTTP by a recipe and must answer that code in the ErrorResponse shape; the code
enum is exactly what the server can send; uploads over the limit answer FILE_TOO_LARGE."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.core import errors
from app.core.schemas import ErrorResponse
from app.core.security import create_token
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.files import image_bytes

Headers = dict[str, str]
Recipe = Callable[[TestClient, str, str, Headers], httpx.Response]
MIB = 1024 * 1024


def documented_codes(app: FastAPI) -> set[tuple[str, str, str, str]]:
    """(METHOD, path, status, code) for every documented error example."""
    found = set()
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                examples = response.get("content", {}).get("application/json", {}).get("examples")
                for code in examples or {}:
                    found.add((method.upper(), path, status, code))
    return found


def concrete(path: str) -> str:
    return path.replace("{post_id}", "1").replace("{user_id}", "1").replace("{key_id}", "1")


# Generic recipes: (status, code) -> how any route documenting it is made to answer it.
def no_credentials(client: TestClient, method: str, path: str, _h: Headers) -> httpx.Response:
    return client.request(method, concrete(path))


def bad_token(client: TestClient, method: str, path: str, _h: Headers) -> httpx.Response:
    if path == "/auth/refresh":
        return client.post(path, json={"refresh_token": "nonsense"})
    return client.request(method, concrete(path), headers={"Authorization": "Bearer nonsense"})


def bad_field(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    if "{" in path:
        return client.request(method, path.split("{")[0] + "0", headers=headers)
    if method == "GET":
        return client.get(path, params={"per_page": 0}, headers=headers)
    if path == "/auth/token":
        return client.post(path, data={"password": "x"}, headers=headers)
    if path.startswith("/uploads"):
        data = {"description": "bad\x00text"}
        field = "files" if path == "/uploads" else "file"
        png = image_bytes("PNG", (2, 2))
        return client.post(path, headers=headers, data=data, files={field: ("a.png", png)})
    return client.request(method, path, json={"no_such_field": 1}, headers=headers)


def json_too_large(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    body = b"{" + b" " * (MIB + 10) + b"}"
    headers = {**headers, "content-type": "application/json"}
    if path == "/auth/token":
        headers["content-type"] = "application/x-www-form-urlencoded"
    return client.request(method, concrete(path), content=body, headers=headers)


def file_too_large(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    field = "files" if path == "/uploads" else "file"
    big = b"\x89PNG" + b"\0" * (6 * MIB)
    return client.request(
        method,
        own(client, path, headers),
        headers=headers,
        files={field: ("big.png", big, "image/png")},
    )


def no_file(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    # What a browser sends for a file input left empty: a part without a file name or bytes.
    field = "files" if path == "/uploads" else "file"
    target = own(client, path, headers)
    body = (
        f'--b\r\nContent-Disposition: form-data; name="{field}"; filename=""\r\n\r\n\r\n--b--\r\n'
    ).encode()
    headers = {**headers, "content-type": "multipart/form-data; boundary=b"}
    return client.request(method, target, headers=headers, content=body)


def unknown_field(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    field = "files" if path == "/uploads" else "file"
    png = image_bytes("PNG", (2, 2))
    return client.request(
        method,
        own(client, path, headers),
        headers=headers,
        files=[(field, ("a.png", png)), ("nope", (None, "x"))],
    )


def too_many(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    field = "files" if path == "/uploads" else "file"
    png = image_bytes("PNG", (2, 2))
    count = 11 if path == "/uploads" else 2
    return client.request(
        method, own(client, path, headers), headers=headers, files=[(field, ("a.png", png))] * count
    )


def malformed(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    target = own(client, path, headers)
    headers = {**headers, "content-type": "multipart/form-data; boundary=xyz"}
    return client.request(
        method,
        target,
        headers=headers,
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"',
    )


def unsupported(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    field = "files" if path == "/uploads" else "file"
    return client.request(
        method,
        own(client, path, headers),
        headers=headers,
        files={field: ("a.html", b"<html><script></script></html>")},
    )


def own(client: TestClient, path: str, headers: Headers) -> str:
    """The path with a post of the caller's where it needs one."""
    if "{post_id}" in path:
        post = client.post("/posts", json={"title": "t", "content": "c"}, headers=headers).json()
        return path.replace("{post_id}", str(post["id"]))
    return concrete(path)


def unparsable(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    # JSON: bytes that are not UTF-8 (json.loads raises UnicodeDecodeError, not a JSON error);
    # the form: a multipart body without a boundary.
    kind = "multipart/form-data" if path == "/auth/token" else "application/json"
    target = own(client, path, headers)
    headers = {**headers, "content-type": kind}
    return client.request(method, target, content=b"\x80\x81", headers=headers)


@dataclass
class Ctx:
    """What a recipe may use: the caller's client and headers, and the test's fixtures."""

    client: TestClient
    headers: Headers
    app: FastAPI
    settings: Any
    monkeypatch: pytest.MonkeyPatch
    make_user: Callable[..., Any]


CtxRecipe = Callable[[Ctx, str, str], httpx.Response]
GOOD_PASSWORD = "analytical-engine-1843"


def plain(recipe: Recipe) -> CtxRecipe:
    return lambda ctx, method, path: recipe(ctx.client, method, path, ctx.headers)


def invalid(ctx: Ctx, method: str, path: str) -> httpx.Response:
    headers = ctx.headers
    if (method, path) == ("DELETE", "/users/{user_id}"):
        headers = admin_headers(ctx)  # a non-admin is refused (403) before the path is validated
    return bad_field(ctx.client, method, path, headers)


def api_key_headers(ctx: Ctx) -> Headers:
    created = ctx.client.post("/users/me/api-keys", json={"name": "k"}, headers=ctx.headers)
    return {"X-API-Key": created.json()["key"]}


def email_taken(ctx: Ctx, method: str, path: str) -> httpx.Response:
    other = ctx.make_user("taken@example.com")
    if path == "/auth/register":
        body = {"email": other.email, "password": GOOD_PASSWORD, "name": "X"}
        return ctx.client.post(path, json=body)
    body = {"email": other.email, "current_password": PASSWORD}
    return ctx.client.request(method, path, json=body, headers=ctx.headers)


def wrong_password(ctx: Ctx, method: str, path: str) -> httpx.Response:
    if path == "/auth/token":
        return ctx.client.post(path, data={"username": "owner@example.com", "password": "nope"})
    return ctx.client.post(path, json={"email": "owner@example.com", "password": "nope"})


def locked_out(ctx: Ctx, method: str, path: str) -> httpx.Response:
    for _ in range(ctx.settings.login_max_failures + 1):
        response = wrong_password(ctx, method, path)
    return response


def mail_throttled(ctx: Ctx, method: str, path: str) -> httpx.Response:
    for _ in range(ctx.settings.mail_per_address_per_hour + 1):
        response = ctx.client.post(path, headers=ctx.headers)
    return response


def bad_link(ctx: Ctx, method: str, path: str) -> httpx.Response:
    body: dict[str, str] = {"token": "not-a-token"}
    if path == "/auth/reset-password":
        body["new_password"] = GOOD_PASSWORD
    return ctx.client.post(path, json=body)


def wrong_current_password(ctx: Ctx, method: str, path: str) -> httpx.Response:
    body = {"current_password": "wrong-password-1", "new_password": GOOD_PASSWORD}
    if path == "/users/me":
        body = {"email": "new@example.com", "current_password": "wrong-password-1"}
    return ctx.client.request(method, path, json=body, headers=ctx.headers)


def with_api_key(ctx: Ctx, method: str, path: str) -> httpx.Response:
    headers = api_key_headers(ctx)
    bodies: dict[str, Any] = {
        "/users/me": {"email": "new@example.com", "current_password": PASSWORD},
        "/users/me/password": {"current_password": PASSWORD, "new_password": GOOD_PASSWORD},
        "/users/me/api-keys": {"name": "k2"},
    }
    return ctx.client.request(method, concrete(path), json=bodies.get(path), headers=headers)


def no_reauth(ctx: Ctx, method: str, path: str) -> httpx.Response:
    return ctx.client.request(method, path, json={"email": "new@example.com"}, headers=ctx.headers)


def not_admin(ctx: Ctx, method: str, path: str) -> httpx.Response:
    return ctx.client.request(method, concrete(path), headers=ctx.headers)


def a_png() -> dict[str, Any]:
    return {"files": {"file": ("a.png", image_bytes("PNG", (2, 2)), "image/png")}}


def others_post(ctx: Ctx, method: str, path: str) -> httpx.Response:
    other = ctx.make_user("author@example.com")
    theirs = bearer(login(ctx.client, other.email)["access_token"])
    post = ctx.client.post(
        "/posts", json={"title": "t", "content": "c", "published": True}, headers=theirs
    ).json()
    target = path.replace("{post_id}", str(post["id"]))
    kwargs: dict[str, Any] = {"json": {"title": "mine now"}}
    if path.endswith("/cover"):
        kwargs = a_png()
    elif method == "DELETE":
        kwargs = {}
    return ctx.client.request(method, target, headers=ctx.headers, **kwargs)


def admin_headers(ctx: Ctx) -> Headers:
    admin = ctx.make_user("admin@example.com", is_admin=True)
    return bearer(login(ctx.client, admin.email)["access_token"])


def missing(ctx: Ctx, method: str, path: str) -> httpx.Response:
    headers = ctx.headers
    if (method, path) == ("DELETE", "/users/{user_id}"):
        headers = admin_headers(ctx)  # a non-admin is refused (403) before the lookup
    if path == "/files/{name}":
        return ctx.client.get("/files/" + "a" * 32 + ".png")
    head, _, tail = path.partition("{")
    target = head + str(2**31 - 1) + tail.partition("}")[2]
    kwargs: dict[str, Any] = {}
    if method == "PATCH" and path.endswith("/cover"):
        kwargs = a_png()
    elif method == "PATCH":
        kwargs = {"json": {"title": "x"}}
    return ctx.client.request(method, target, headers=headers, **kwargs)


def bad_range(ctx: Ctx, method: str, path: str) -> httpx.Response:
    png = image_bytes("PNG", (2, 2))
    url = ctx.client.post("/uploads/image", headers=ctx.headers, files={"file": ("a.png", png)})
    return ctx.client.get(url.json()["url"], headers={"Range": "bytes=999999-"})


def image_too_large(ctx: Ctx, method: str, path: str) -> httpx.Response:
    from bench.decode import rgba_png

    field = "files" if path == "/uploads" else "file"
    target = own(ctx.client, path, ctx.headers)
    files = {field: ("big.png", rgba_png(6300), "image/png")}
    return ctx.client.request(method, target, headers=ctx.headers, files=files)


def over_quota(ctx: Ctx, method: str, path: str) -> httpx.Response:
    target = own(ctx.client, path, ctx.headers)
    ctx.monkeypatch.setattr(ctx.settings, "upload_quota_bytes", 10)
    field = "files" if path == "/uploads" else "file"
    files = {field: ("a.png", image_bytes("PNG", (8, 8)), "image/png")}
    return ctx.client.request(method, target, headers=ctx.headers, files=files)


def common_password(ctx: Ctx, method: str, path: str) -> httpx.Response:
    bodies: dict[str, Any] = {
        "/auth/register": {"email": "c@example.com", "password": "password", "name": "C"},
        "/auth/reset-password": {"token": "t", "new_password": "password"},
        "/users/me/password": {"current_password": PASSWORD, "new_password": "password"},
    }
    return ctx.client.request(method, path, json=bodies[path], headers=ctx.headers)


# Bodies that validate, so a route without credentials gets as far as the database.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "/auth/register": {"json": {"email": "d@example.com", "password": GOOD_PASSWORD, "name": "D"}},
    "/auth/login": {"json": {"email": "d@example.com", "password": GOOD_PASSWORD}},
    "/auth/token": {"data": {"username": "d@example.com", "password": GOOD_PASSWORD}},
    "/auth/forgot-password": {"json": {"email": "d@example.com"}},
}


def signed_tokens(ctx: Ctx) -> dict[str, dict[str, Any]]:
    """Bodies with tokens that pass their signature check, so the route goes on to the database
    (a forged one is refused before it)."""
    user = ctx.make_user()
    refresh = login(ctx.client, user.email)["refresh_token"]
    link: dict[str, str] = {}
    for kind in ("reset", "verify"):
        link[kind], _ = create_token(
            user.id, kind, account=user.uid, version=user.token_version, lifetime=timedelta(hours=1)
        )
    return {
        "/auth/refresh": {"json": {"refresh_token": refresh}},
        "/auth/logout": {"json": {"refresh_token": refresh}},
        "/auth/reset-password": {"json": {"token": link["reset"], "new_password": GOOD_PASSWORD}},
        "/auth/verify-email": {"json": {"token": link["verify"]}},
    }


def database_down(ctx: Ctx, method: str, path: str) -> httpx.Response:
    bodies = {**VALID_BODIES, **signed_tokens(ctx)}
    dead = create_engine("sqlite:////nonexistent-quill-dir/db.sqlite")

    def _dead_db() -> Iterator[Session]:
        with Session(dead) as session:
            yield session

    ctx.app.dependency_overrides[get_db] = _dead_db
    try:
        kwargs = bodies.get(path, {})
        return ctx.client.request(method, concrete(path), headers=ctx.headers, **kwargs)
    finally:
        del ctx.app.dependency_overrides[get_db]


RECIPES: dict[tuple[str, str], CtxRecipe] = {
    ("400", "BAD_REQUEST"): plain(unparsable),
    ("401", "NOT_AUTHENTICATED"): plain(no_credentials),
    ("401", "INVALID_TOKEN"): plain(bad_token),
    ("422", "VALIDATION_FAILED"): invalid,
    ("413", "PAYLOAD_TOO_LARGE"): plain(json_too_large),
    ("413", "FILE_TOO_LARGE"): plain(file_too_large),
    ("422", "NO_FILE"): plain(no_file),
    ("422", "INVALID_FORM_FIELD"): plain(unknown_field),
    ("422", "TOO_MANY_FILES"): plain(too_many),
    ("422", "MALFORMED_MULTIPART"): plain(malformed),
    ("415", "UNSUPPORTED_MEDIA_TYPE"): plain(unsupported),
    ("409", "EMAIL_TAKEN"): email_taken,
    ("401", "INVALID_CREDENTIALS"): wrong_password,
    ("429", "TOO_MANY_LOGIN_ATTEMPTS"): locked_out,
    ("429", "MAIL_THROTTLED"): mail_throttled,
    ("400", "INVALID_OR_EXPIRED_TOKEN"): bad_link,
    ("400", "INVALID_CURRENT_PASSWORD"): wrong_current_password,
    ("403", "API_KEY_NOT_ALLOWED"): with_api_key,
    ("403", "REAUTH_REQUIRED"): no_reauth,
    ("403", "ADMIN_REQUIRED"): not_admin,
    ("403", "FORBIDDEN"): others_post,
    ("404", "NOT_FOUND"): missing,
    ("416", "RANGE_NOT_SATISFIABLE"): bad_range,
    ("413", "IMAGE_TOO_LARGE"): image_too_large,
    ("413", "QUOTA_EXCEEDED"): over_quota,
    ("422", "PASSWORD_TOO_COMMON"): common_password,
    ("503", "DATABASE_UNAVAILABLE"): database_down,
}

# Documented once for every route (any route can fail unexpectedly); the 500 boundary itself is
# tested in tests/api/test_wiring.py, not per route.
GLOBAL = {("500", "INTERNAL_ERROR")}


def test_every_documented_error_has_a_recipe(app: FastAPI) -> None:
    documented = {(status, code) for _, _, status, code in documented_codes(app)}
    assert documented - set(RECIPES) - GLOBAL == set()


def test_code_enum_is_every_code_the_server_can_send(app: FastAPI) -> None:
    schema = app.openapi()["components"]["schemas"]["ErrorResponse"]
    sendable = {code for _, code in errors.ERROR_TABLE.values()}
    sendable |= set(errors.HTTP_CODES.values()) | set(errors.VALIDATION_TYPE_CODES.values())
    sendable |= {"INTERNAL_ERROR", "DATABASE_UNAVAILABLE"}
    assert set(schema["properties"]["code"]["enum"]) == sendable


def _cases() -> Iterator[tuple[str, str, str, str]]:
    from app.main import create_app

    for case in sorted(documented_codes(create_app())):
        if (case[2], case[3]) not in GLOBAL:
            yield case


@pytest.mark.parametrize(("method", "path", "status", "code"), list(_cases()))
def test_documented_example_is_what_the_server_answers(
    user_client: tuple[TestClient, Any, Headers],
    app: FastAPI,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    make_user: Callable[..., Any],
    method: str,
    path: str,
    status: str,
    code: str,
) -> None:
    client, _user, headers = user_client
    ctx = Ctx(client, headers, app, settings, monkeypatch, make_user)
    response = RECIPES[(status, code)](ctx, method, path)
    assert response.status_code == int(status), response.text
    body = response.json()
    assert body["code"] == code, body
    ErrorResponse.model_validate(body)
    assert ("errors" in body) == (status == "422"), body
    for item in body.get("errors", []):
        assert isinstance(item["loc"], list) and item["field"]


UPLOAD_ROUTES = [
    ("POST", "/uploads/image"),
    ("POST", "/users/me/avatar"),
    ("PATCH", "/posts/{post_id}/cover"),
    ("POST", "/uploads"),
]


@pytest.mark.parametrize(("method", "path"), UPLOAD_ROUTES)
@pytest.mark.parametrize("chunked", [False, True])
def test_one_file_over_the_limit_is_file_too_large(
    user_client: tuple[TestClient, Any, Headers], method: str, path: str, chunked: bool
) -> None:
    client, _user, headers = user_client
    field = "files" if path == "/uploads" else "file"
    target = own(client, path, headers)
    boundary = "bndry"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
    ).encode()
    body = head + b"\0" * (6 * MIB) + f"\r\n--{boundary}--\r\n".encode()
    content: Any = body
    if chunked:

        def stream() -> Iterator[bytes]:
            for start in range(0, len(body), 256 * 1024):
                yield body[start : start + 256 * 1024]

        content = stream()
    response = client.request(
        method,
        target,
        content=content,
        headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "FILE_TOO_LARGE"
