"""Uploads over HTTP: what is accepted, what lands on disk, and that files and rows agree."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import get_db
from app.main import create_app
from app.uploads.models import Upload
from app.uploads.storage import Storage
from tests.utils.accounts import bearer, login
from tests.utils.files import (
    HTML,
    PDF,
    StoreView,
    image_bytes,
    png_bomb,
    secret_exif,
    stored,
    temporaries,
)

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
def store(storage: Storage) -> StoreView:
    """This test's upload folder (the `storage` fixture the app is built with)."""
    return StoreView(storage)


def test_image_type_comes_from_bytes(user_client, store: StoreView, db: Session) -> None:
    client, user, headers = user_client
    data = image_bytes("PNG")
    response = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("evil.html", data, "text/html")},
        data={"description": "A blue box"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "image/png"
    assert body["filename"].endswith(".png") and body["filename"] != "evil.html"
    assert body["original_name"] == "evil.html" and body["description"] == "A blue box"
    assert body["url"] == f"/files/{body['filename']}"
    on_disk = store / body["filename"]
    assert on_disk.is_file() and body["size"] == len(on_disk.read_bytes())
    row = db.scalar(select(Upload).where(Upload.id == body["id"]))
    import hashlib

    assert row.sha256 == hashlib.sha256(on_disk.read_bytes()).hexdigest()
    assert row.owner_id == user.id and row.kind == "upload"
    assert temporaries(store) == []


def test_files_are_served_safely(user_client) -> None:
    client, _user, headers = user_client
    body = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("a.png", image_bytes("PNG"), "image/png")},
    ).json()
    served = client.get(body["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["etag"]
    assert served.content[:8] == b"\x89PNG\r\n\x1a\n"
    partial = client.get(body["url"], headers={"Range": "bytes=0-7"})
    assert partial.status_code == 206 and partial.content == b"\x89PNG\r\n\x1a\n"
    head = client.head(body["url"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == served.headers["content-length"]
    unsatisfiable = client.get(body["url"], headers={"Range": "bytes=999999-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.json()["code"] == "RANGE_NOT_SATISFIABLE"


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%2F..%2Fetc%2Fpasswd",
        "/files/../../etc/passwd",
        "/files/%00",
        "/files/abcdefghijklmnopqrstuvwxyz012345.png",
        "/files/.tmp",
        "/files/x.html",
        "/files/..%252Fsecret.png",
    ],
)
def test_unknown_names_and_path_tricks_are_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_jpeg_metadata_is_stripped(user_client, store: StoreView) -> None:
    client, _user, headers = user_client
    data = image_bytes("JPEG", exif=secret_exif())
    assert b"SECRETCAM" in data
    body = client.post(
        "/uploads/image", headers=headers, files={"file": ("photo.jpg", data, "image/jpeg")}
    ).json()
    written = (store / body["filename"]).read_bytes()
    assert b"SECRETCAM" not in written
    with Image.open((store / body["filename"]).open()) as im:
        assert im.format == "JPEG" and len(im.getexif()) == 0 and "exif" not in im.info


@pytest.mark.parametrize(("fmt", "mime"), [("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_gif_and_webp_accepted(user_client, fmt: str, mime: str) -> None:
    client, _user, headers = user_client
    response = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("x.bin", image_bytes(fmt), "application/octet-stream")},
    )
    assert response.status_code == 201 and response.json()["content_type"] == mime


def test_pdf_only_through_general_uploads(user_client, store: StoreView) -> None:
    client, _user, headers = user_client
    refused = client.post(
        "/uploads/image", headers=headers, files={"file": ("doc.pdf", PDF, "application/pdf")}
    )
    assert refused.status_code == 415 and refused.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    accepted = client.post(
        "/uploads", headers=headers, files=[("files", ("doc.pdf", PDF, "image/png"))]
    )
    assert accepted.status_code == 201
    item = accepted.json()["files"][0]
    assert item["content_type"] == "application/pdf" and item["filename"].endswith(".pdf")
    served = client.get(item["url"])
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("x.png", HTML, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("x.svg", SVG, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("x.png", HTML + image_bytes("PNG"), 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 1024 * 1024), 413, "FILE_TOO_LARGE"),
    ],
)
def test_refused_files_leave_nothing(
    user_client, store: StoreView, db: Session, name: str, data: bytes, status: int, code: str
) -> None:
    client, user, headers = user_client
    before = stored(store)
    # /uploads allows a body of 10 files, so a 6 MiB file is caught by the per-file limit as
    # it streams (FILE_TOO_LARGE), not by the request's Content-Length.
    response = client.post(
        "/uploads", headers=headers, files=[("files", (name, data, "image/png"))]
    )
    assert response.status_code == status and response.json()["code"] == code
    assert stored(store) == before and temporaries(store) == []
    assert db.scalar(select(Upload).where(Upload.owner_id == user.id)) is None


def test_decompression_bomb_is_refused(user_client, store: StoreView, tmp_path: Path) -> None:
    client, _user, headers = user_client
    bomb = png_bomb(tmp_path / "bomb.png", 20000, 20000).read_bytes()
    before = stored(store)
    response = client.post(
        "/uploads/image", headers=headers, files={"file": ("bomb.png", bomb, "image/png")}
    )
    assert response.status_code == 413 and response.json()["code"] == "IMAGE_TOO_LARGE"
    assert stored(store) == before and temporaries(store) == []


def test_eleven_files_refused_and_batches_are_all_or_nothing(
    user_client, store: StoreView, db: Session
) -> None:
    client, user, headers = user_client
    png = image_bytes("PNG")
    before = stored(store)
    eleven = client.post(
        "/uploads",
        headers=headers,
        files=[("files", (f"{i}.png", png, "image/png")) for i in range(11)],
    )
    assert eleven.status_code == 422 and eleven.json()["code"] == "TOO_MANY_FILES"
    mixed = client.post(
        "/uploads",
        headers=headers,
        files=[
            ("files", ("ok.png", png, "image/png")),
            ("files", ("bad.svg", SVG, "image/svg+xml")),
        ],
    )
    assert mixed.status_code == 415
    assert stored(store) == before and temporaries(store) == []
    assert db.scalar(select(Upload).where(Upload.owner_id == user.id)) is None
    ten = client.post(
        "/uploads",
        headers=headers,
        files=[("files", (f"{i}.png", png, "image/png")) for i in range(10)],
        data={"description": "batch"},
    )
    assert ten.status_code == 201 and ten.json()["uploaded"] == 10
    assert all(f["description"] == "batch" for f in ten.json()["files"])
    assert len(stored(store) - before) == 10


def test_form_field_rules(user_client) -> None:
    client, _user, headers = user_client
    png = image_bytes("PNG")
    too_long = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("a.png", png, "image/png")},
        data={"description": "x" * 501},
    )
    assert too_long.status_code == 422
    no_file = client.post("/uploads/image", headers=headers, data={"description": "only text"})
    assert no_file.status_code in (415, 422)
    json_body = client.post("/uploads/image", headers=headers, json={"file": "x"})
    assert json_body.status_code == 415
    assert (
        client.post("/uploads/image", files={"file": ("a.png", png, "image/png")}).status_code
        == 401
    )


def test_declared_body_over_the_route_limit_is_413(user_client, store: StoreView) -> None:
    client, _user, headers = user_client
    before = stored(store)
    big = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (6 << 20), "image/png")},
    )
    # One image over the limit, one answer (issue 11): FILE_TOO_LARGE, as when streamed.
    assert big.status_code == 413 and big.json()["code"] == "FILE_TOO_LARGE"
    assert stored(store) == before and temporaries(store) == []
    response = client.post(
        "/uploads/image",
        headers={**headers, "content-type": "multipart/form-data; boundary=x"},
        content=b"x" * (6 * 1024 * 1024),
    )
    assert response.status_code == 413


def test_body_limits_follow_the_settings_of_the_app_serving(
    db: Session, database, settings, storage: Storage, make_user
) -> None:
    """The upload routes are built at import; their limits are the serving app's
    MAX_UPLOAD_BYTES, read when the request arrives, not the process's settings."""
    app = create_app(
        settings.model_copy(update={"max_upload_bytes": 1000}), database=database, storage=storage
    )
    app.dependency_overrides[get_db] = lambda: db
    user = make_user("small-limit@example.com")
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = bearer(login(client, user.email)["access_token"])
        file = client.post(
            "/uploads/image",
            headers=headers,
            files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 5000, "image/png")},
        )
        assert file.status_code == 413 and file.json()["code"] == "FILE_TOO_LARGE"
        # Declared larger than this app's form limit: refused from the declared length, before
        # the body is read, with the one answer every upload route gives (FILE_TOO_LARGE).
        declared = client.post(
            "/uploads/image",
            headers={**headers, "content-type": "multipart/form-data; boundary=x"},
            content=b"x" * 200_000,
        )
        assert declared.status_code == 413 and declared.json()["code"] == "FILE_TOO_LARGE"
    assert stored(storage) == set() and temporaries(storage) == []


def test_list_and_delete_own_uploads(client: TestClient, make_user, store: StoreView) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    alice_h = bearer(login(client, alice.email)["access_token"])
    bob_h = bearer(login(client, bob.email)["access_token"])
    png = image_bytes("PNG")
    ids = [
        client.post(
            "/uploads/image", headers=alice_h, files={"file": ("a.png", png, "image/png")}
        ).json()
        for _ in range(3)
    ]
    listing = client.get("/uploads", headers=alice_h).json()
    assert (
        listing["total"] == 3 and [u["id"] for u in listing["data"]] == [u["id"] for u in ids][::-1]
    )
    assert client.get("/uploads", headers=bob_h).json()["total"] == 0
    target = ids[0]
    assert client.delete(f"/uploads/{target['id']}", headers=bob_h).status_code == 404
    assert (store / target["filename"]).exists()
    assert client.delete(f"/uploads/{target['id']}", headers=alice_h).status_code == 204
    assert not (store / target["filename"]).exists()
    assert client.get(target["url"]).status_code == 404


def test_no_transaction_is_held_while_the_body_streams(
    user_client, db: Session, monkeypatch
) -> None:
    """A slow client must not keep a transaction (on SQLite: the write lock) open."""
    from app.uploads import forms as upload_forms

    client, _user, headers = user_client
    seen: list[bool] = []
    real = upload_forms.read_multipart

    async def spy(request, **kwargs):
        seen.append(db.in_transaction())
        return await real(request, **kwargs)

    monkeypatch.setattr(upload_forms, "read_multipart", spy)
    post = client.post("/posts", headers=headers, json={"title": "t", "content": "c"}).json()
    for path, method in (
        ("/uploads/image", "POST"),
        ("/users/me/avatar", "POST"),
        (f"/posts/{post['id']}/cover", "PATCH"),
    ):
        db.expunge_all()  # make the route's lookups really query, as in a fresh request
        response = client.request(
            method,
            path,
            headers=headers,
            files={"file": ("a.png", image_bytes("PNG"), "image/png")},
        )
        assert response.status_code in (200, 201), response.text
    assert seen == [False, False, False]
