"""Issue 9, finding 7: no upload temporary outlives its request whatever fails, a target deleted
while the upload streams in is 404 (post) / 401 (account), and crash leftovers are swept at
start-up. Decode and quota limits: test_hardening_upload_limits.py."""

import os
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.posts import service as posts
from app.posts.models import Post
from app.posts.schemas import PostCreate
from app.uploads.models import Upload
from app.uploads.storage import Storage
from app.users import service as users
from app.users.models import User
from tests.utils.files import StoreView, image_bytes, rows_of, stored, temporaries

THREE_IMAGES = [("files", (f"{i}.png", image_bytes("PNG", (300, 200)), "image/png")) for i in "abc"]


def nothing_left(db: Session, user: User, storage: Storage) -> None:
    store = StoreView(storage)
    assert temporaries(store) == []
    assert stored(store) == set()
    assert rows_of(db, user) == 0


# --- 7. a failed commit leaves nothing ----------------------------------------------------------


@pytest.fixture
def failing_commit(db: Session) -> Iterator[None]:
    """The database refuses the upload's rows at the commit (as a full disk or a lost
    connection would)."""

    def refuse(session: Session, _context: object, _instances: object) -> None:
        if any(isinstance(obj, Upload) for obj in session.new):
            raise RuntimeError("the database refused the commit")

    event.listen(db, "before_flush", refuse)
    yield
    event.remove(db, "before_flush", refuse)


@pytest.mark.usefixtures("failing_commit")
def test_failed_commit_leaves_no_temporaries(user_client, db: Session, storage) -> None:
    client, user, headers = user_client
    post = posts.create_post(db, author=user, data=posts_body())
    for _ in range(3):
        answer = client.post("/uploads", headers=headers, files=THREE_IMAGES)
        assert answer.status_code == 500
        assert answer.json()["code"] == "INTERNAL_ERROR"
    one = {"file": ("a.png", image_bytes("PNG", (300, 200)), "image/png")}
    assert client.post("/uploads/image", headers=headers, files=one).status_code == 500
    assert client.post("/users/me/avatar", headers=headers, files=one).status_code == 500
    cover = client.patch(f"/posts/{post.id}/cover", headers=headers, files=one)
    assert cover.status_code == 500
    nothing_left(db, user, storage)
    db.refresh(user)
    db.refresh(post)
    assert user.avatar_name is None and post.cover_name is None


def posts_body() -> PostCreate:
    return PostCreate(title="Covered", content="Text")


# --- 7. the target vanishes while the upload streams in ------------------------------------------


class MidStream:
    """Deliver the request body in two halves and run `between` after the first: what a slow
    upload lets another request do meanwhile."""

    def __init__(self, app: ASGIApp, between: Callable[[], None]) -> None:
        self.app = app
        self.between = between

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        halves: list[Message] = []

        async def split() -> Message:
            if halves:
                self.between()
                return halves.pop()
            message = await receive()
            if message["type"] != "http.request" or message.get("more_body"):
                return message
            body = message.get("body", b"")
            middle = len(body) // 2
            halves.append({"type": "http.request", "body": body[middle:], "more_body": False})
            return {"type": "http.request", "body": body[:middle], "more_body": True}

        await self.app(scope, split, send)


def streaming_client(app: FastAPI, between: Callable[[], None]) -> TestClient:
    return TestClient(MidStream(app, between), raise_server_exceptions=False)


def big_png() -> dict:
    return {"file": ("big.png", image_bytes("PNG", (400, 300)), "image/png")}


def test_post_deleted_during_cover_upload_is_404(
    user_client, app: FastAPI, db: Session, storage
) -> None:
    _client, user, headers = user_client
    post = posts.create_post(db, author=user, data=posts_body())

    def delete_post() -> None:
        posts.delete_post(db, storage=storage, post=db.get(Post, post.id))

    with streaming_client(app, delete_post) as client:
        answer = client.patch(f"/posts/{post.id}/cover", headers=headers, files=big_png())
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "NOT_FOUND"
    nothing_left(db, user, storage)


@pytest.mark.parametrize("route", ["/users/me/avatar", "/uploads/image", "/uploads", "cover"])
def test_account_deleted_during_upload_is_401(
    route: str, user_client, app: FastAPI, db: Session, storage
) -> None:
    _client, user, headers = user_client
    post = posts.create_post(db, author=user, data=posts_body())
    path = f"/posts/{post.id}/cover" if route == "cover" else route
    field = "files" if route == "/uploads" else "file"

    def delete_account() -> None:
        users.delete_user(db, storage=storage, user=db.get(User, user.id))

    with streaming_client(app, delete_account) as client:
        method = client.patch if route == "cover" else client.post
        answer = method(path, headers=headers, files={field: big_png()["file"]})
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "NOT_AUTHENTICATED"
    assert answer.headers["www-authenticate"] == "Bearer"
    nothing_left(db, user, storage)


# --- 7. start-up sweeps what a crash left -------------------------------------------------------


def test_startup_sweeps_stale_temporaries(app: FastAPI, storage) -> None:
    stale = storage.temp_file(".png")
    stale.write_bytes(b"left by a crashed worker")
    an_hour_and_more = time.time() - 3700
    os.utime(stale, (an_hour_and_more, an_hour_and_more))
    # Another worker's upload in progress: young, so it stays.
    fresh = storage.temp_file(".png")
    with TestClient(app):
        assert not stale.exists()
        assert fresh.exists()
    fresh.unlink()
