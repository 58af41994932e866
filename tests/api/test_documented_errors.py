"""The schema's error documentation is held to the wire: every documented (route, status, code)
is provoked over HTTP by a recipe and must answer that code in the ErrorResponse shape; the code
enum is exactly what the server can send; uploads over the limit answer FILE_TOO_LARGE."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core import errors
from app.core.schemas import ErrorResponse
from tests.api.recipes import GLOBAL, RECIPES, Ctx
from tests.api.recipes_request import MIB, Headers, documented_codes, own


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
    from tests.utils.settings import run_settings

    for case in sorted(documented_codes(create_app(run_settings()))):
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
