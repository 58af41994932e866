"""Issue 9, finding 8 and the upload quota of 16: image decodes are bounded in number and size,
and a user's stored files stay within their quota, even with uploads racing for the last bytes."""

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import ImageFile
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.main import create_app
from app.uploads import media
from app.uploads.limits import UploadLimits
from app.uploads.models import Upload
from bench.decode import rgba_png
from tests.utils.accounts import PASSWORD, bearer, login
from tests.utils.db import committed_user as committed
from tests.utils.files import PDF, image_bytes, rows_of, stored, temporaries

# --- 8. decoding is bounded ---------------------------------------------------------------------


def test_decode_bytes_are_bounded_before_decoding(user_client) -> None:
    """6300×6300 RGBA passes the pixel limit but would take 159 MB decoded: refused from the
    header, before a pixel is decoded."""
    client, _user, headers = user_client
    data = rgba_png(6300)
    assert len(data) < 400_000
    answer = client.post(
        "/uploads/image", headers=headers, files={"file": ("big.png", data, "image/png")}
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["code"] == "IMAGE_TOO_LARGE"


def count_concurrent_decodes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, threads: int, settings: Settings
) -> int:
    """Run `threads` image decodes at once, bounded as an app with `settings` bounds them; the
    most that were inside Pillow's load together."""
    pool_size = UploadLimits.from_settings(settings).decode_workers
    inside, most, lock = 0, 0, threading.Lock()
    real_load = ImageFile.ImageFile.load

    def counting_load(self: ImageFile.ImageFile) -> object:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.05)
            return real_load(self)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    src = tmp_path / "in.png"
    src.write_bytes(image_bytes("PNG", (64, 64)))
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def decode(i: int) -> None:
        barrier.wait()
        try:
            media.process_image(src, tmp_path / f"out{i}.png", workers=pool_size)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=decode, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert errors == []
    return most


def test_decode_concurrency_is_the_setting(
    settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    two = settings.model_copy(update={"image_decode_concurrency": 2})
    assert count_concurrent_decodes(monkeypatch, tmp_path, threads=6, settings=two) == 2


def test_decode_concurrency_defaults_to_the_cores(
    settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    unset = settings.model_copy(update={"image_decode_concurrency": None})
    cores = len(os.sched_getaffinity(0))
    threads = cores + 2
    assert count_concurrent_decodes(monkeypatch, tmp_path, threads=threads, settings=unset) == cores


def test_decode_concurrency_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "test")  # no development key file in the working directory
    monkeypatch.setenv("IMAGE_DECODE_CONCURRENCY", "3")
    monkeypatch.setenv("UPLOAD_QUOTA_BYTES", "12345")
    fresh = Settings()
    assert fresh.image_decode_concurrency == 3 and fresh.upload_quota_bytes == 12345
    monkeypatch.delenv("IMAGE_DECODE_CONCURRENCY")
    monkeypatch.delenv("UPLOAD_QUOTA_BYTES")
    assert Settings().upload_quota_bytes == 1024**3


# --- 16. the upload quota -----------------------------------------------------------------------


def test_quota_refuses_what_would_pass_it(
    user_client, settings, monkeypatch: pytest.MonkeyPatch, db: Session, storage
) -> None:
    client, user, headers = user_client
    monkeypatch.setattr(settings, "upload_quota_bytes", 2 * len(PDF) + 10)
    pdf = ("files", ("a.pdf", PDF, "application/pdf"))
    assert client.post("/uploads", headers=headers, files=[pdf, pdf]).status_code == 201
    refused = client.post("/uploads", headers=headers, files=[pdf])
    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "QUOTA_EXCEEDED"
    assert rows_of(db, user) == 2 and len(stored(storage)) == 2
    assert temporaries(storage) == []
    # Images count too, avatars included; freeing space lets the next one in.
    avatar = {"file": ("me.png", image_bytes("PNG", (1, 1)), "image/png")}
    assert client.post("/users/me/avatar", headers=headers, files=avatar).status_code == 413
    first = client.get("/uploads", headers=headers).json()["data"][0]["id"]
    assert client.delete(f"/uploads/{first}", headers=headers).status_code == 204
    assert client.post("/users/me/avatar", headers=headers, files=avatar).status_code == 200
    assert temporaries(storage) == []


def test_replacing_an_avatar_counts_the_old_one_as_freed(
    user_client, settings, monkeypatch: pytest.MonkeyPatch, db: Session
) -> None:
    client, user, headers = user_client
    avatar = {"file": ("me.png", image_bytes("PNG"), "image/png")}
    first = client.post("/users/me/avatar", headers=headers, files=avatar)
    assert first.status_code == 200
    size = db.scalar(select(Upload.size).where(Upload.owner_id == user.id))
    monkeypatch.setattr(settings, "upload_quota_bytes", size + size // 2)
    assert client.post("/users/me/avatar", headers=headers, files=avatar).status_code == 200
    assert rows_of(db, user) == 1


@pytest.fixture
def committed_user(session_factory, password_hash: str) -> Iterator[str]:
    email = "quota-race@example.com"
    with committed(session_factory, email=email, hashed_password=password_hash, name="Q"):
        yield email


def test_concurrent_uploads_cannot_share_the_last_headroom(
    committed_user: str, settings, database, monkeypatch: pytest.MonkeyPatch, storage
) -> None:
    """Real sessions on real connections. Each upload lingers after summing the quota, so two
    unserialised checks would both see the same headroom; under the owner's lock only one may."""
    monkeypatch.setattr(settings, "upload_quota_bytes", len(PDF) + len(PDF) // 2)

    def linger(_conn, _cursor, statement: str, *_args: object) -> None:
        if "sum(" in statement.lower() and "uploads" in statement.lower():
            time.sleep(0.3)

    event.listen(database.engine, "after_cursor_execute", linger)
    statuses: Counter[int] = Counter()
    try:
        app = create_app(settings, database=database, storage=storage)
        with TestClient(app, raise_server_exceptions=False) as client:
            headers = bearer(login(client, committed_user, PASSWORD)["access_token"])
            barrier = threading.Barrier(3)

            def upload() -> None:
                barrier.wait()
                files = {"file": ("a.pdf", PDF, "application/pdf")}
                answer = client.post("/uploads", headers=headers, files={"files": files["file"]})
                statuses[answer.status_code] += 1

            workers = [threading.Thread(target=upload) for _ in range(3)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=60)
    finally:
        event.remove(database.engine, "after_cursor_execute", linger)
    assert statuses == {201: 1, 413: 2}
    assert len(stored(storage)) == 1
    assert temporaries(storage) == []
