"""Recipes that need only a client and the caller's headers: how to make any route answer a
generic error (no credentials, a bad field, a body too large, a broken form...)."""

import re
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

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
    return re.sub(r"\{(post|user|key|comment)_id\}", "1", path)


# Generic recipes: (status, code) -> how any route documenting it is made to answer it.
def no_credentials(client: TestClient, method: str, path: str, _h: Headers) -> httpx.Response:
    return client.request(method, concrete(path))


def bad_token(client: TestClient, method: str, path: str, _h: Headers) -> httpx.Response:
    if path == "/auth/refresh":
        return client.post(path, json={"refresh_token": "nonsense"})
    return client.request(method, concrete(path), headers={"Authorization": "Bearer nonsense"})


def bad_field(client: TestClient, method: str, path: str, headers: Headers) -> httpx.Response:
    if "{" in path:
        # Every id 0, the rest of the path kept: /posts/0/comments is the comments route's own.
        return client.request(method, re.sub(r"\{\w+\}", "0", path), headers=headers)
    if path == "/feed.xml":
        return client.get(path, params={"author_id": 0}, headers=headers)
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
