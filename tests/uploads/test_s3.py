"""STORAGE_BACKEND=s3 against a real S3 API (moto's server, tests/utils/s3.py): objects under the
prefix, large files in parts, redirects, a store that does not answer, storage-check, and a file
stored through one app served by another sharing the bucket."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import cli
from app.api.deps import get_db
from app.core.config import Settings
from app.main import create_app
from app.uploads.backends import storage_from_settings
from app.uploads.models import Upload
from app.uploads.s3 import PART_BYTES, S3Storage
from app.uploads.storage import Storage, new_name
from tests.utils.accounts import bearer, login
from tests.utils.files import PDF, image_bytes, stored, temporaries
from tests.utils.s3 import S3Target, unreachable_storage


@pytest.fixture
def bucket(s3: S3Target, tmp_path: Path) -> S3Storage:
    return s3.storage(tmp_path / "tmp")


@contextmanager
def app_client(
    settings: Settings, database: Any, storage: Storage, db: Session, **changes: Any
) -> Iterator[TestClient]:
    app: FastAPI = create_app(
        settings.model_copy(update=changes), database=database, storage=storage
    )
    app.dependency_overrides[get_db] = lambda: (yield db)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client
    create_app(settings)  # file URLs back to the run's settings (they are per process)


def _upload(client: TestClient, headers: dict[str, str], data: bytes, name: str) -> dict[str, Any]:
    response = client.post("/uploads", headers=headers, files={"files": (name, data)})
    assert response.status_code == 201, response.text
    return dict(response.json()["files"][0])


def test_s3_storage_keeps_to_its_prefix(s3: S3Target, bucket: S3Storage, tmp_path: Path) -> None:
    assert isinstance(bucket, Storage) and not bucket.local
    neighbour = s3.storage(tmp_path / "other")
    src = neighbour.temp_file()
    src.write_bytes(b"someone else's")
    neighbour.save(src, new_name(".png"))
    assert list(bucket.names()) == []
    src = bucket.temp_file()
    src.write_bytes(b"mine")
    name = new_name(".png")
    bucket.save(src, name)
    assert not src.exists() and list(bucket.names()) == [name]
    assert bucket.key(name) == bucket.prefix + name
    with bucket.open(name) as handle:
        assert handle.read() == b"mine"
    bucket.delete(name)
    bucket.delete(name)  # a missing key is no error: deletes are retried
    assert not bucket.exists(name) and not bucket.exists("../etc/passwd")


def test_large_file_is_stored_in_parts_and_served_in_ranges(bucket: S3Storage) -> None:
    size = 2 * PART_BYTES + 12345
    src = bucket.temp_file()
    with src.open("wb") as out:
        out.write(PDF)
        out.write(b"0" * (size - len(PDF)))
    name = new_name(".pdf")
    bucket.save(src, name)
    found = bucket.get(name, head=True)
    assert found.size == size and found.etag.endswith('-3"')  # three parts
    tail = bucket.get(name, byte_range="bytes=-5")
    assert tail.status == 206 and b"".join(tail.chunks()) == b"00000"


def test_served_from_s3_like_local(user_client, settings, database, db, bucket) -> None:
    _client, user, _headers = user_client
    with app_client(settings, database, bucket, db) as client:
        headers = bearer(login(client, user.email)["access_token"])
        body = _upload(client, headers, PDF, "doc.pdf")
        served = client.get(body["url"])
        assert served.status_code == 200 and served.content == PDF
        assert served.headers["content-type"] == "application/pdf"
        assert served.headers["content-disposition"] == f'attachment; filename="{body["filename"]}"'
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["etag"] and served.headers["last-modified"]
        head = client.head(body["url"])
        assert head.status_code == 200 and head.headers["content-length"] == str(len(PDF))
        several = client.get(body["url"], headers={"Range": "bytes=0-1,4-5"})
        assert several.status_code == 200 and several.content == PDF


def test_redirect_to_a_signed_url(user_client, settings, database, db, bucket) -> None:
    _client, user, _headers = user_client
    with app_client(settings, database, bucket, db, files_redirect=True) as client:
        headers = bearer(login(client, user.email)["access_token"])
        body = _upload(client, headers, image_bytes("PNG"), "a.png")
        assert body["url"].startswith("/files/")
        answer = client.get(body["url"])
        assert answer.status_code == 307 and answer.headers["cache-control"] == "no-store"
        signed = answer.headers["location"]
        assert "Signature=" in signed or "X-Amz-Signature=" in signed
        fetched = httpx.get(signed)
        assert fetched.status_code == 200 and fetched.content[:4] == b"\x89PNG"
        assert fetched.headers["content-type"] == "image/png"
        assert client.get("/files/" + "b" * 32 + ".png").status_code == 404


def test_cdn_base_url_in_answers_and_redirects(user_client, settings, database, db, bucket) -> None:
    _client, user, _headers = user_client
    cdn = "https://cdn.example.com/quill"
    changes = {"files_redirect": True, "files_public_base_url": cdn}
    with app_client(settings, database, bucket, db, **changes) as client:
        headers = bearer(login(client, user.email)["access_token"])
        body = _upload(client, headers, image_bytes("PNG"), "a.png")
        assert body["url"] == f"{cdn}/{bucket.prefix}{body['filename']}"
        answer = client.get("/files/" + body["filename"])
        assert answer.status_code == 307 and answer.headers["location"] == body["url"]


def test_unreachable_store_is_503_and_stores_nothing(
    user_client, settings, database, db: Session, tmp_path: Path
) -> None:
    _client, user, _headers = user_client
    dead = unreachable_storage(tmp_path / "tmp")
    with app_client(settings, database, dead, db) as client:
        headers = bearer(login(client, user.email)["access_token"])
        response = client.post("/uploads", headers=headers, files={"files": ("a.pdf", PDF)})
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "STORAGE_UNAVAILABLE"
        assert response.headers["retry-after"]
        count = select(func.count()).select_from(Upload).where(Upload.owner_id == user.id)
        assert db.scalar(count) == 0 and temporaries(dead) == []
        served = client.get("/files/" + "c" * 32 + ".png")
        assert served.status_code == 503 and served.json()["code"] == "STORAGE_UNAVAILABLE"


def test_storage_check_on_s3(user_client, settings, database, db, bucket, monkeypatch, capsys):
    _client, user, _headers = user_client
    with app_client(settings, database, bucket, db) as client:
        headers = bearer(login(client, user.email)["access_token"])
        kept = _upload(client, headers, PDF, "kept.pdf")
        lost = _upload(client, headers, PDF, "lost.pdf")
    bucket.delete(lost["filename"])
    stray = bucket.temp_file()
    stray.write_bytes(b"stray")
    stray_name = new_name(".png")
    bucket.save(stray, stray_name)

    @contextmanager
    def borrowed() -> Iterator[Session]:
        yield db

    def check(*extra: str) -> int:
        return cli.main(
            ["storage-check", *extra], sessions=borrowed, storage=bucket, settings=settings
        )

    assert check() == 1
    out = capsys.readouterr().out
    assert f"file without a row: {stray_name}" in out and lost["filename"] in out
    assert check("--fix") == 0
    assert check() == 0
    assert stored(bucket) == {kept["filename"]}


def test_a_file_stored_by_one_app_is_served_by_another(
    user_client, settings, database, db, s3: S3Target, tmp_path: Path
) -> None:
    """Two processes' worth of apps, each with its own client, one bucket and prefix, one db."""
    _client, user, _headers = user_client
    first = s3.storage(tmp_path / "one", prefix="shared-" + new_name(".png")[:8] + "/")
    second = s3.storage(tmp_path / "two", prefix=first.prefix)
    with app_client(settings, database, first, db) as one:
        body = _upload(one, bearer(login(one, user.email)["access_token"]), PDF, "doc.pdf")
    with app_client(settings, database, second, db) as two:
        served = two.get(body["url"])
        assert served.status_code == 200 and served.content == PDF
        deleted = two.delete(
            f"/uploads/{body['id']}", headers=bearer(login(two, user.email)["access_token"])
        )
        assert deleted.status_code == 204
    assert not first.exists(body["filename"])


def test_settings_choose_the_backend(tmp_path: Path, s3: S3Target) -> None:
    with pytest.raises(ValueError, match="S3_BUCKET"):
        Settings(environment="test", storage_backend="s3")
    chosen = storage_from_settings(
        Settings(
            environment="test",
            storage_backend="s3",
            s3_bucket=s3.bucket,
            s3_prefix="/media/",
            s3_endpoint_url=s3.endpoint_url,
            upload_dir=tmp_path,
        )
    )
    assert isinstance(chosen, S3Storage) and chosen.prefix == "media/"
    assert chosen.tmp_dir == tmp_path.resolve() / ".tmp"
