"""Avatars and covers: re-encoded, fitted, replaced without orphans, removed with their owners."""

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import cli as cli
from app.uploads.models import Upload
from tests.utils.accounts import bearer, login
from tests.utils.db import Borrowed
from tests.utils.files import StoreView, image_bytes, stored, temporaries


def upload_avatar(client: TestClient, headers: dict, size=(1600, 800)):
    return client.post(
        "/users/me/avatar",
        headers=headers,
        files={"file": ("me.jpg", image_bytes("JPEG", size), "image/jpeg")},
    )


def name_of(url: str) -> str:
    return url.removeprefix("/files/")


def test_avatar_set_replace_remove(user_client, settings, db: Session, storage) -> None:
    client, user, headers = user_client
    store = StoreView(storage)
    first = upload_avatar(client, headers)
    assert first.status_code == 200, first.text
    first_url = first.json()["avatar_url"]
    with Image.open((store / name_of(first_url)).open()) as im:
        assert im.size == (512, 256)
    second = upload_avatar(client, headers).json()["avatar_url"]
    assert second != first_url
    assert not (store / name_of(first_url)).exists()  # the old file went
    assert (store / name_of(second)).exists()
    kinds = db.scalars(select(Upload.kind).where(Upload.owner_id == user.id)).all()
    assert kinds == ["avatar"]
    # Shown on the public profile too.
    public = client.get(f"/users/{user.id}", headers=headers).json()
    assert public["avatar_url"] == second
    # Avatars are not general uploads.
    assert client.get("/uploads", headers=headers).json()["total"] == 0
    assert client.delete("/users/me/avatar", headers=headers).status_code == 204
    assert not (store / name_of(second)).exists()
    assert client.get("/users/me", headers=headers).json()["avatar_url"] is None
    assert (
        db.scalar(select(func.count()).select_from(Upload).where(Upload.owner_id == user.id)) == 0
    )
    assert client.delete("/users/me/avatar", headers=headers).status_code == 204


def test_bad_avatar_keeps_the_old_one(user_client, settings, storage) -> None:
    client, _user, headers = user_client
    store = StoreView(storage)
    url = upload_avatar(client, headers).json()["avatar_url"]
    refused = client.post(
        "/users/me/avatar", headers=headers, files={"file": ("x.png", b"<svg/>", "image/png")}
    )
    assert refused.status_code == 415
    assert client.get("/users/me", headers=headers).json()["avatar_url"] == url
    assert (store / name_of(url)).exists() and temporaries(store) == []


def test_cover_author_only_and_removed_with_post(
    client: TestClient, make_user, settings, storage
) -> None:
    store = StoreView(storage)
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    admin = make_user("admin@example.com", is_admin=True)
    alice_h = bearer(login(client, alice.email)["access_token"])
    post = client.post(
        "/posts", headers=alice_h, json={"title": "t", "content": "c", "published": True}
    ).json()
    cover = image_bytes("PNG", (4000, 1000))

    def set_cover(headers):
        return client.patch(
            f"/posts/{post['id']}/cover",
            headers=headers,
            files={"file": ("c.png", cover, "image/png")},
        )

    for other in (bob, admin):
        assert set_cover(bearer(login(client, other.email)["access_token"])).status_code == 403
    first = set_cover(alice_h)
    assert first.status_code == 200
    first_url = first.json()["cover_image_url"]
    with Image.open((store / name_of(first_url)).open()) as im:
        assert im.size == (1920, 480)
    second_url = set_cover(alice_h).json()["cover_image_url"]
    assert not (store / name_of(first_url)).exists() and (store / name_of(second_url)).exists()
    listed = client.get("/posts").json()["data"][0]
    assert listed["cover_image_url"] == second_url
    assert client.delete(f"/posts/{post['id']}", headers=alice_h).status_code == 204
    assert not (store / name_of(second_url)).exists()


def test_deleting_a_user_removes_their_files(
    client: TestClient, make_user, settings, db, storage
) -> None:
    store = StoreView(storage)
    user = make_user("files@example.com")
    headers = bearer(login(client, user.email)["access_token"])
    before = stored(store)
    upload_avatar(client, headers)
    client.post(
        "/uploads", headers=headers, files=[("files", ("a.png", image_bytes("PNG"), "image/png"))]
    )
    post = client.post("/posts", headers=headers, json={"title": "t", "content": "c"}).json()
    client.patch(
        f"/posts/{post['id']}/cover",
        headers=headers,
        files={"file": ("c.png", image_bytes("PNG"), "image/png")},
    )
    assert len(stored(store) - before) == 3
    assert client.delete("/users/me", headers=headers).status_code == 204
    assert stored(store) == before
    assert (
        db.scalar(select(func.count()).select_from(Upload).where(Upload.owner_id == user.id)) == 0
    )


def test_storage_check_reports_and_fixes(
    user_client, settings, db: Session, monkeypatch, capsys, storage
) -> None:
    client, _user, headers = user_client
    store = StoreView(storage)

    def borrowed() -> Borrowed:
        return Borrowed(db)

    kept = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("a.png", image_bytes("PNG"), "image/png")},
    ).json()
    lost = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("b.png", image_bytes("PNG"), "image/png")},
    ).json()
    (store / lost["filename"]).unlink()
    stray = store / ("S" * 32 + ".png")
    stray.write_bytes(b"stray")
    assert cli.main(["storage-check"], sessions=borrowed, storage=storage, settings=settings) == 1
    out = capsys.readouterr().out
    assert f"file without a row: {stray.name}" in out
    assert f"row without a file: {lost['filename']}" in out
    assert (
        cli.main(["storage-check", "--fix"], sessions=borrowed, storage=storage, settings=settings)
        == 0
    )
    assert not stray.exists() and (store / kept["filename"]).exists()
    assert db.get(Upload, lost["id"]) is None
    assert cli.main(["storage-check"], sessions=borrowed, storage=storage, settings=settings) == 0


def test_failed_move_leaves_no_row_and_no_dangling_avatar(
    user_client, db: Session, monkeypatch, storage
):
    client, user, headers = user_client
    store = StoreView(storage)
    upload_avatar(client, headers)

    def broken_save(src, name):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "save", broken_save)
    response = upload_avatar(client, headers)
    assert response.status_code == 500 and response.json()["code"] == "INTERNAL_ERROR"
    db.expire_all()
    assert db.get(type(user), user.id).avatar_name is None
    assert (
        db.scalar(select(func.count()).select_from(Upload).where(Upload.owner_id == user.id)) == 0
    )
    assert temporaries(store) == []
