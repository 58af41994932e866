"""The streaming multipart reader through an app: limits, codes, and no temp file left behind.

A tiny FastAPI app wired with the real error handlers, so the tests also check the status and
code a client sees. How much is read, and memory, are in test_streaming_direct.py.
"""

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import errors
from app.uploads.errors import (
    FileTooLargeError,
    FormFieldError,
    MalformedMultipartError,
    NoFileError,
    TooManyFilesError,
)
from app.uploads.multipart import ParsedForm, read_multipart
from app.uploads.storage import LocalStorage

MIB = 1024 * 1024
CHUNK = 64 * 1024
BOUNDARY = "quill-test-boundary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "uploads")


class Rechunk:
    """Deliver request bodies in 64 KiB messages as a real server does; TestClient sends one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queued: list[Message] = []

        async def chunked() -> Message:
            if queued:
                return queued.pop(0)
            message = await receive()
            if message["type"] != "http.request":
                return message
            body, more = message.get("body", b""), message.get("more_body", False)
            pieces = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                queued.append(
                    {"type": "http.request", "body": piece, "more_body": more or not last}
                )
            return queued.pop(0)

        await self.app(scope, chunked if scope["type"] == "http" else receive, send)


@pytest.fixture
def client(storage: LocalStorage) -> Iterator[TestClient]:
    app = FastAPI()
    errors.install_handlers(app)

    def describe(form: ParsedForm) -> dict[str, Any]:
        return {
            "files": [
                {
                    "name": f.original_name,
                    "size": f.size,
                    "sha256": f.sha256,
                    "in_tmp": f.temp_path.parent == storage.tmp_dir,
                    "on_disk": f.temp_path.stat().st_size,
                }
                for f in form.files
            ],
            "fields": form.fields,
        }

    @app.post("/one")
    async def one(request: Request) -> dict[str, Any]:
        form = await read_multipart(
            request,
            file_field="file",
            max_files=1,
            max_file_bytes=5 * MIB,
            text_fields={"description": 20},
            storage=storage,
        )
        with form:
            return describe(form)

    @app.post("/many")
    async def many(request: Request) -> dict[str, Any]:
        form = await read_multipart(
            request,
            file_field="files",
            max_files=10,
            max_file_bytes=MIB,
            text_fields={"description": 500},
            storage=storage,
        )
        with form:
            return describe(form)

    with TestClient(Rechunk(app), raise_server_exceptions=False) as test_client:
        yield test_client


def tmp_is_empty(storage: LocalStorage) -> bool:
    return not any(storage.tmp_dir.iterdir())


def test_one_file_arrives_with_size_and_sha256(client: TestClient, storage: LocalStorage) -> None:
    content = os.urandom(300_000)
    response = client.post("/one", files={"file": ("photo.png", content, "image/png")})
    assert response.status_code == 200, response.text
    [received] = response.json()["files"]
    assert received == {
        "name": "photo.png",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "in_tmp": True,
        "on_disk": len(content),
    }
    assert tmp_is_empty(storage)  # the route's `with form:` removed it


def test_description_is_kept(client: TestClient) -> None:
    response = client.post(
        "/one", files={"file": ("a.gif", b"GIF89a...")}, data={"description": "Zürich at dusk"}
    )
    assert response.status_code == 200
    assert response.json()["fields"] == {"description": "Zürich at dusk"}


def test_file_over_the_limit_is_413_and_leaves_nothing(
    client: TestClient, storage: LocalStorage
) -> None:
    response = client.post("/one", files={"file": ("big.jpg", b"\0" * (6 * MIB))})
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "FILE_TOO_LARGE"
    assert "5 MiB" in body["message"]
    assert tmp_is_empty(storage)


def test_eleven_files_when_ten_are_allowed(client: TestClient, storage: LocalStorage) -> None:
    files = [("files", (f"{i}.png", b"x" * 100_000)) for i in range(11)]
    response = client.post("/many", files=files)
    assert response.status_code == 422
    assert response.json()["code"] == "TOO_MANY_FILES"
    assert tmp_is_empty(storage)


def test_ten_files_are_fine(client: TestClient) -> None:
    files = [("files", (f"{i}.png", bytes([i]) * 100)) for i in range(10)]
    response = client.post("/many", files=files)
    assert response.status_code == 200
    assert [f["name"] for f in response.json()["files"]] == [f"{i}.png" for i in range(10)]


def test_a_file_too_large_among_several_removes_the_earlier_ones(
    client: TestClient, storage: LocalStorage
) -> None:
    files = [("files", ("ok.png", b"x" * 200_000)), ("files", ("big.png", b"x" * (MIB + 1)))]
    response = client.post("/many", files=files)
    assert response.status_code == 413
    assert "1 MiB" in response.json()["message"]
    assert tmp_is_empty(storage)


# Bigger than a chunk, so it is on disk by the time the bad part after it arrives.
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * CHUNK)


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        ([("file", "a.png", PNG), ("description", None, b"x" * 21)], "INVALID_FORM_FIELD"),
        ([("file", "a.png", PNG), ("owner_id", None, b"1")], "INVALID_FORM_FIELD"),
        ([("file", "a.png", PNG), ("description", "d.txt", b"text")], "INVALID_FORM_FIELD"),
        ([("file", "a.png", PNG), ("description", None, b"\xff\xfe")], "INVALID_FORM_FIELD"),
        ([("file", None, b"not a file")], "INVALID_FORM_FIELD"),
        ([("file", "empty.png", b"")], "INVALID_FORM_FIELD"),
        ([("description", None, b"only text")], "NO_FILE"),
        ([("file", "", b"")], "NO_FILE"),  # what a browser sends for an empty file input
    ],
    ids=[
        "too-long",
        "unknown",
        "file-as-text",
        "not-utf8",
        "text-as-file",
        "empty",
        "no-file",
        "unselected",
    ],
)
def test_form_validation(
    client: TestClient, storage: LocalStorage, parts: list[tuple[str, str | None, bytes]], code: str
) -> None:
    # The file comes first where there is one, so a temp file exists when the bad part arrives.
    response = client.post("/one", content=_multipart(parts), headers=MULTIPART)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert tmp_is_empty(storage)


def test_repeated_text_field_is_refused(client: TestClient) -> None:
    body = _multipart(
        [("file", "a.png", b"x"), ("description", None, b"a"), ("description", None, b"b")]
    )
    response = client.post("/one", content=body, headers=MULTIPART)
    assert response.status_code == 422
    assert "more than once" in response.json()["message"]


def test_filename_is_reduced_to_its_last_component(client: TestClient) -> None:
    body = _multipart([("file", "C:/Users/me/..\\secret\\pic\x07.png", b"x")])
    response = client.post("/one", content=body, headers=MULTIPART)
    assert response.json()["files"][0]["name"] == "pic.png"


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/x-www-form-urlencoded", "image/png", None]
)
def test_non_multipart_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/one", content=b'{"file": "x"}', headers=headers)
    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_multipart_without_boundary_is_refused(client: TestClient) -> None:
    response = client.post("/one", content=b"x", headers={"content-type": "multipart/form-data"})
    assert response.status_code == 422
    assert response.json()["code"] == "MALFORMED_MULTIPART"


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += (
            f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


def test_errors_are_in_the_error_table() -> None:
    assert errors.ERROR_TABLE[FileTooLargeError] == (413, "FILE_TOO_LARGE")
    assert errors.ERROR_TABLE[TooManyFilesError] == (422, "TOO_MANY_FILES")
    assert errors.ERROR_TABLE[NoFileError] == (422, "NO_FILE")
    assert errors.ERROR_TABLE[FormFieldError] == (422, "INVALID_FORM_FIELD")
    assert errors.ERROR_TABLE[MalformedMultipartError] == (422, "MALFORMED_MULTIPART")
