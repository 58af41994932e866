"""The recipe table of tests/api/test_documented_errors.py: for each documented (status, code),
how to make a route answer it over HTTP. A new documented code needs a row here."""

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
from app.core.security import create_token
from tests.api.recipes_request import (
    Headers,
    Recipe,
    bad_field,
    bad_token,
    concrete,
    file_too_large,
    json_too_large,
    malformed,
    no_credentials,
    no_file,
    own,
    too_many,
    unknown_field,
    unparsable,
    unsupported,
)
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.files import image_bytes
from tests.utils.s3 import unreachable_storage


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


def rate_limited(ctx: Ctx, method: str, path: str) -> httpx.Response:
    """The limits counted before the body is read: a second request of any shape is over."""
    ctx.monkeypatch.setattr(ctx.settings, "rate_limit_enabled", True)
    ctx.monkeypatch.setattr(ctx.settings, "rate_limit_auth", "1/minute")
    ctx.monkeypatch.setattr(ctx.settings, "rate_limit_uploads", "1/minute")
    for _ in range(2):
        response = ctx.client.request(method, concrete(path), headers=ctx.headers)
    assert int(response.headers["Retry-After"]) > 0
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
    if "{comment_id}" in path:
        comment = ctx.client.post(
            f"/posts/{post['id']}/comments", json={"body": "theirs"}, headers=theirs
        ).json()
        target = path.replace("{comment_id}", str(comment["id"]))
        kwargs = {"json": {"body": "mine now"}}
    if path.endswith("/cover"):
        kwargs = a_png()
    elif method == "DELETE":
        kwargs = {}
    return ctx.client.request(method, target, headers=ctx.headers, **kwargs)


def slug_taken(ctx: Ctx, method: str, path: str) -> httpx.Response:
    body = {"title": "t", "content": "c", "slug": "taken"}
    ctx.client.post("/posts", json=body, headers=ctx.headers)
    if method == "PATCH":
        target = own(ctx.client, path, ctx.headers)
        return ctx.client.patch(target, json={"slug": "taken"}, headers=ctx.headers)
    return ctx.client.post(path, json=body, headers=ctx.headers)


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
    elif method in ("POST", "PATCH") and "comments" in path:
        kwargs = {"json": {"body": "x"}}
    elif method == "PATCH":
        kwargs = {"json": {"title": "x"}}
    return ctx.client.request(method, target, headers=headers, **kwargs)


def bad_range(ctx: Ctx, method: str, path: str) -> httpx.Response:
    png = image_bytes("PNG", (2, 2))
    url = ctx.client.post("/uploads/image", headers=ctx.headers, files={"file": ("a.png", png)})
    return ctx.client.get(url.json()["url"], headers={"Range": "bytes=999999-"})


def storage_down(ctx: Ctx, method: str, path: str) -> httpx.Response:
    """The app's object store does not answer: uploads and /files/ answer 503."""
    working = ctx.app.state.storage
    ctx.app.state.storage = unreachable_storage(working.tmp_dir)
    try:
        if path == "/files/{name}":
            return ctx.client.get("/files/" + "a" * 32 + ".png")
        field = "files" if path == "/uploads" else "file"
        target = own(ctx.client, path, ctx.headers)
        files = {field: ("a.png", image_bytes("PNG", (2, 2)), "image/png")}
        return ctx.client.request(method, target, headers=ctx.headers, files=files)
    finally:
        ctx.app.state.storage = working


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
            user.id,
            kind,
            account=user.uid,
            version=user.token_version,
            lifetime=timedelta(hours=1),
            key=ctx.settings.signing_key,
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
    ("409", "SLUG_TAKEN"): slug_taken,
    ("401", "INVALID_CREDENTIALS"): wrong_password,
    ("429", "TOO_MANY_LOGIN_ATTEMPTS"): locked_out,
    ("429", "MAIL_THROTTLED"): mail_throttled,
    ("429", "RATE_LIMITED"): rate_limited,
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
    ("503", "STORAGE_UNAVAILABLE"): storage_down,
}

# Documented once for every route (any route can fail unexpectedly); the 500 boundary itself is
# tested in tests/api/test_wiring.py, not per route.
GLOBAL = {("500", "INTERNAL_ERROR")}
