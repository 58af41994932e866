"""Publication and scheduling: the rules for `published` and `published_at`, and a post scheduled
for later kept out of every public path until its time comes (no job: every read compares)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.posts.models import Post
from app.users.models import User
from tests.utils.accounts import bearer, login
from tests.utils.posts import make_post


@pytest.fixture
def people(client: TestClient, make_user: Callable[..., User]) -> dict[str, Any]:
    found = {}
    for name, is_admin in (("alice", False), ("bob", False), ("admin", True)):
        user = make_user(f"{name}@example.com", name=name.title(), is_admin=is_admin)
        found[name] = (user, bearer(login(client, user.email)["access_token"]))
    return found


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def test_scheduled_post_hidden_everywhere_until_its_time(
    client: TestClient, people: dict[str, Any], db: Session
) -> None:
    alice, alice_h = people["alice"]
    _, bob_h = people["bob"]
    _, admin_h = people["admin"]
    later = datetime.now(UTC) + timedelta(hours=1)
    post = make_post(
        client, alice_h, title="Soon", tags=["soon"], published=True, published_at=_iso(later)
    )
    assert post["published"] is True
    assert datetime.fromisoformat(post["published_at"]) == later
    single = [f"/posts/{post['id']}", f"/posts/slug/{post['slug']}"]
    lists = ["/posts", f"/posts?author_id={alice.id}", "/posts?tag=soon"]

    for headers in ({}, bob_h, admin_h):
        for path in single:
            assert client.get(path, headers=headers).status_code == 404, path
        for path in lists:
            assert client.get(path, headers=headers).json()["total"] == 0, path
    assert client.get("/tags").json()["total"] == 0
    # Admins may moderate published posts, but a scheduled one does not exist for them yet.
    path = f"/posts/{post['id']}"
    assert client.patch(path, headers=admin_h, json={"title": "x"}).status_code == 404
    assert client.delete(path, headers=admin_h).status_code == 404
    assert client.patch(path, headers=bob_h, json={"title": "x"}).status_code == 404
    # Its author sees it, in /posts/my under both filters that should show it.
    for path in single:
        assert client.get(path, headers=alice_h).status_code == 200
    mine = client.get("/posts/my?published=true", headers=alice_h).json()
    assert [p["id"] for p in mine["data"]] == [post["id"]]
    assert client.get("/posts/my?published=false", headers=alice_h).json()["total"] == 0

    # Its time comes (moved into the past directly: no waiting, no job).
    stored = db.get(Post, post["id"])
    assert stored is not None
    stored.published_at = datetime.now(UTC) - timedelta(seconds=1)
    db.commit()
    for path in single:
        assert client.get(path).status_code == 200, path
    for path in lists:
        assert client.get(path).json()["total"] == 1, path
    assert client.get("/tags").json()["data"] == [{"name": "soon", "post_count": 1}]
    moderated = client.patch(f"/posts/{post['id']}", headers=admin_h, json={"title": "Mod"})
    assert moderated.status_code == 200


def test_publication_rules(client: TestClient, people: dict[str, Any]) -> None:
    _, alice_h = people["alice"]
    draft = make_post(client, alice_h)
    assert draft["published_at"] is None
    path = f"/posts/{draft['id']}"
    before = datetime.now(UTC)
    published = client.patch(path, headers=alice_h, json={"published": True}).json()
    when = datetime.fromisoformat(published["published_at"])
    assert before - timedelta(seconds=1) <= when <= datetime.now(UTC) + timedelta(seconds=1)
    again = client.patch(path, headers=alice_h, json={"published": True, "title": "t2"}).json()
    assert again["published_at"] == published["published_at"]  # republishing keeps its time
    unpublished = client.patch(path, headers=alice_h, json={"published": False}).json()
    assert unpublished["published"] is False and unpublished["published_at"] is None
    past = "2020-05-06T07:08:09+02:00"
    dated = client.patch(path, headers=alice_h, json={"published": True, "published_at": past})
    assert dated.json()["published_at"] == "2020-05-06T05:08:09Z"
    created = make_post(client, alice_h, published=True, published_at="2021-01-01T00:00:00Z")
    assert created["published_at"] == "2021-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "fields",
    [
        {"published_at": "2030-01-01T00:00:00Z"},  # published left out: a draft cannot have one
        {"published": False, "published_at": "2030-01-01T00:00:00Z"},
        {"published": True, "published_at": "2030-01-01T00:00:00"},  # naive
        {"published": True, "published_at": "1969-12-31T23:59:59Z"},
        {"published": True, "published_at": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"published": True, "published_at": "9999-12-31T23:00:00-05:00"},  # past 9999 in UTC
        {"published": True, "published_at": "not a time"},
    ],
)
def test_bad_publication_is_422(
    client: TestClient, people: dict[str, Any], fields: dict[str, Any]
) -> None:
    _, alice_h = people["alice"]
    created = client.post("/posts", headers=alice_h, json={"title": "t", "content": "c", **fields})
    assert created.status_code == 422, created.text
    post = make_post(client, alice_h)
    patched = client.patch(f"/posts/{post['id']}", headers=alice_h, json=fields)
    assert patched.status_code == 422, patched.text
    assert client.get(f"/posts/{post['id']}", headers=alice_h).json()["published"] is False


def test_published_at_needs_published_message(client: TestClient, people: dict[str, Any]) -> None:
    _, alice_h = people["alice"]
    body = {"title": "t", "content": "c", "published_at": "2030-01-01T00:00:00Z"}
    answer = client.post("/posts", headers=alice_h, json=body).json()
    assert "published_at needs published: true" in answer["errors"][0]["message"]


def test_far_future_schedule_is_stored(client: TestClient, people: dict[str, Any]) -> None:
    _, alice_h = people["alice"]
    post = make_post(client, alice_h, published=True, published_at="9999-12-31T23:59:59Z")
    assert post["published_at"] == "9999-12-31T23:59:59Z"
    assert client.get("/posts").json()["total"] == 0
