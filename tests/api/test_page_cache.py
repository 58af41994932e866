"""Anonymous public reads answered from the change counter (app/api/page_cache.py,
app/posts/changes.py): every kind of write changes the ETag and the answer, nothing else does,
and a write through one app instance is seen by the next read on another."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.api.page_cache import Page, PageCache
from app.core.models import utcnow
from app.main import create_app
from app.posts.models import Post, PostSchedule
from tests.utils.accounts import bearer, login
from tests.utils.comments import make_comment
from tests.utils.db import committed_user
from tests.utils.files import image_bytes
from tests.utils.posts import make_post

Write = Callable[[], Any]


@pytest.fixture
def alice(client: TestClient, make_user) -> tuple[Any, dict[str, str]]:
    user = make_user("alice@example.com", name="Alice")
    return user, bearer(login(client, user.email)["access_token"])


@pytest.fixture
def post(client: TestClient, alice) -> dict[str, Any]:
    return make_post(client, alice[1], title="First", published=True, tags=["one"])


def changes(client: TestClient, url: str, write: Write, shows: str | None = None) -> None:
    """`write` changes the anonymous answer's ETag and its body (to one showing `shows`)."""
    before = client.get(url)
    assert before.status_code == 200
    assert client.get(url, headers={"If-None-Match": before.headers["etag"]}).status_code == 304
    write()
    after = client.get(url)
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.content != before.content
    if shows is not None:
        assert shows in after.text
    stale = client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert stale.status_code == 200 and stale.content == after.content


def ok(response: Any) -> None:
    assert response.status_code in (200, 201, 204), response.text


def test_post_writes_change_the_list(client: TestClient, alice, post) -> None:
    h, url = alice[1], f"/posts/{post['id']}"

    def patch(path: str, **kw: Any) -> Write:
        return lambda: ok(client.patch(path, headers=h, **kw))

    changes(client, "/posts", lambda: make_post(client, h, title="Second", published=True))
    changes(client, "/posts", patch(url, json={"title": "Renamed"}), "Renamed")
    changes(client, "/posts", patch(url, json={"tags": ["two"]}), "two")
    changes(client, "/tags", patch(url, json={"tags": ["three"]}), "three")
    cover = {"file": ("c.png", image_bytes("PNG"), "image/png")}
    changes(client, "/posts", patch(f"{url}/cover", files=cover), "cover")
    changes(client, "/posts", lambda: ok(client.delete(url, headers=h)))


def test_comment_writes_change_the_reads(client: TestClient, alice, post) -> None:
    h, url = alice[1], f"/posts/{post['id']}/comments"
    made: dict[str, Any] = {}
    changes(client, "/posts", lambda: made.update(make_comment(client, h, post["id"], "Hello")))
    edit = {"body": "Edited"}
    path = f"/comments/{made['id']}"
    changes(client, url, lambda: ok(client.patch(path, headers=h, json=edit)), "Edited")
    changes(client, url, lambda: ok(client.delete(path, headers=h)))


def test_author_writes_change_the_list(client: TestClient, alice, post) -> None:
    h = alice[1]
    rename = {"name": "Alice B."}
    changes(client, "/posts", lambda: ok(client.patch("/users/me", headers=h, json=rename)))
    avatar = {"file": ("me.png", image_bytes("PNG"), "image/png")}
    changes(client, "/posts", lambda: ok(client.post("/users/me/avatar", headers=h, files=avatar)))
    changes(client, "/posts", lambda: ok(client.delete("/users/me", headers=h)))


def test_scheduled_post_coming_due_changes_the_list(
    client: TestClient, db: Session, alice, post
) -> None:
    later = (utcnow() + timedelta(days=1)).isoformat()
    make_post(client, alice[1], title="Later", published=True, published_at=later)
    assert "Later" not in client.get("/posts").text

    def time_passes() -> None:
        # No write the counter sees: plain SQL on the connection, as the clock would have it.
        due = utcnow() - timedelta(seconds=1)
        conn = db.connection()
        conn.execute(update(Post.__table__).where(Post.title == "Later").values(published_at=due))
        conn.execute(update(PostSchedule.__table__).values(published_at=due))
        db.commit()

    changes(client, "/posts", time_passes, "Later")


def test_unrelated_writes_keep_the_etag(client: TestClient, alice, post) -> None:
    tag = client.get("/posts").headers["etag"]
    draft = make_post(client, alice[1], title="Draft")  # a post write: bumps, conservatively
    tag = client.get("/posts").headers["etag"]
    ok(client.post("/users/me/api-keys", headers=alice[1], json={"name": "k"}))
    login(client, alice[0].email)
    assert client.get("/posts", headers={"If-None-Match": tag}).status_code == 304
    assert draft["id"]


def test_a_write_on_one_instance_is_seen_by_the_next_read_on_another(
    settings, database, storage, session_factory, password_hash: str
) -> None:
    apps = [create_app(settings, database=database, storage=storage) for _ in range(2)]
    email = "two-workers@example.com"
    with (
        committed_user(session_factory, email=email, hashed_password=password_hash),
        TestClient(apps[0]) as one,
        TestClient(apps[1]) as two,
    ):
        h = bearer(login(one, email)["access_token"])
        post = make_post(one, h, title="Original", published=True)
        url = f"/posts/{post['id']}"
        for client in (one, two):  # both instances render and keep the page
            assert "Original" in client.get("/posts").text and client.get(url).status_code == 200
        tag = two.get("/posts").headers["etag"]
        assert one.get("/posts").headers["etag"] == tag  # the same validator on every worker
        ok(one.patch(url, headers=h, json={"title": "Changed"}))
        fresh = two.get("/posts")
        assert "Changed" in fresh.text and "Original" not in fresh.text
        assert fresh.headers["etag"] != tag
        assert two.get("/posts", headers={"If-None-Match": tag}).status_code == 200
        assert two.get(url).json()["title"] == "Changed"


def _page(body: bytes, marker: tuple[int, int] = (1, 0)) -> Page:
    return Page(marker=marker, body=body, headers=())


def test_page_cache_is_bounded() -> None:
    cache = PageCache(max_entries=2, max_bytes=8, max_entry_bytes=6)
    cache.put(("a",), _page(b"aaa"))
    cache.put(("b",), _page(b"bbb"))
    assert cache.get(("a",), (1, 0)) is not None  # now most recently used
    cache.put(("c",), _page(b"ccc"))
    assert cache.get(("b",), (1, 0)) is None and len(cache.pages) == 2
    cache.put(("d",), _page(b"dddddd"))  # over max_bytes with the others: the older go
    assert list(cache.pages) == [("d",)] and cache.size == 6
    cache.put(("e",), _page(b"e" * 7))  # larger than one entry may be
    assert cache.get(("e",), (1, 0)) is None


def test_page_cache_keeps_one_page_per_url_the_newest() -> None:
    cache = PageCache()
    cache.put(("a",), _page(b"old", (1, 0)))
    cache.put(("a",), _page(b"newer", (1, 1)))
    assert cache.get(("a",), (1, 0)) is None and cache.get(("a",), (1, 1)) is not None
    cache.put(("a",), _page(b"late", (1, 0)))  # rendered before the change: not kept
    page = cache.get(("a",), (1, 1))
    assert page is not None and page.body == b"newer" and cache.size == 5


def test_app_cache_evicts(client: TestClient, post) -> None:
    from app.api import page_cache

    client.get("/posts")
    pages = page_cache.pages_of(client.app)  # type: ignore[arg-type]
    pages.max_entries = 3
    for size in range(1, 10):
        assert client.get(f"/posts?size={size}").status_code == 200
    assert len(pages.pages) == 3
