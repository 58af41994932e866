"""Posts: visibility, ownership, filters, search metacharacters, page maths, statement count."""

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.posts.models import Post, PostTag
from tests.utils.accounts import bearer, login
from tests.utils.db import count_statements
from tests.utils.posts import make_post, post_row


@pytest.fixture
def authors(client: TestClient, make_user):
    """alice (author), bob (another user), admin; each with auth headers."""
    people = {}
    for name, is_admin in (("alice", False), ("bob", False), ("admin", True)):
        user = make_user(f"{name}@example.com", name=name.title(), is_admin=is_admin)
        people[name] = (user, bearer(login(client, user.email)["access_token"]))
    return people


def test_create_post_shape_and_defaults(client: TestClient, authors) -> None:
    alice, headers = authors["alice"]
    post = make_post(client, headers, title="  Hello  ")
    # The contract's Post, field for field.
    assert set(post) == {
        "id",
        "slug",
        "title",
        "content",
        "content_html",
        "excerpt",
        "reading_time_minutes",
        "tags",
        "published",
        "published_at",
        "author_id",
        "cover_image_url",
        "comment_count",
        "created_at",
        "updated_at",
    }
    assert post["title"] == "Hello" and post["published"] is False
    assert post["slug"] == "hello" and post["published_at"] is None and post["tags"] == []
    assert post["author_id"] == alice.id
    assert client.post("/posts", json={"title": "x", "content": "y"}).status_code == 401


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "", "content": "c"},
        {"title": "t" * 201, "content": "c"},
        {"title": "t", "content": "c" * 100_001},
        {"title": "t", "content": "c", "author_id": 5},
        {"title": "t", "content": "c", "id": 5},
        {"title": "t", "content": "c", "created_at": "2020-01-01T00:00:00Z"},
        {"title": "t"},
    ],
)
def test_create_post_rejects_bad_input(client: TestClient, authors, db: Session, payload) -> None:
    _, headers = authors["alice"]
    response = client.post("/posts", headers=headers, json=payload)
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_FAILED"
    assert db.scalar(select(func.count()).select_from(Post)) == 0


def test_draft_visibility(client: TestClient, authors) -> None:
    _, alice_h = authors["alice"]
    _, bob_h = authors["bob"]
    _, admin_h = authors["admin"]
    draft = make_post(client, alice_h)
    path = f"/posts/{draft['id']}"
    assert client.get(path, headers=alice_h).status_code == 200
    for headers in ({}, bob_h, admin_h):
        response = client.get(path, headers=headers)
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert client.get("/posts").json()["total"] == 0
    published = client.patch(path, headers=alice_h, json={"published": True}).json()
    assert published["published"] is True
    shown = client.get(path)
    assert shown.status_code == 200
    assert shown.json()["author"] == {
        "id": authors["alice"][0].id,
        "name": "Alice",
        "bio": None,
        "avatar_url": None,
        "created_at": shown.json()["author"]["created_at"],
    }


def test_ownership_on_change(client: TestClient, authors) -> None:
    _, alice_h = authors["alice"]
    _, bob_h = authors["bob"]
    _, admin_h = authors["admin"]
    post = make_post(client, alice_h, published=True)
    draft = make_post(client, alice_h)
    path = f"/posts/{post['id']}"
    denied = client.patch(path, headers=bob_h, json={"title": "Mine now"})
    assert denied.status_code == 403 and denied.json()["code"] == "FORBIDDEN"
    assert client.delete(path, headers=bob_h).status_code == 403
    assert (
        client.patch(f"/posts/{draft['id']}", headers=bob_h, json={"title": "x"}).status_code == 404
    )
    assert client.patch(path, headers={}, json={"title": "x"}).status_code == 401
    moderated = client.patch(path, headers=admin_h, json={"title": "Moderated"})
    assert moderated.status_code == 200 and moderated.json()["title"] == "Moderated"
    assert client.patch("/posts/999999", headers=alice_h, json={"title": "x"}).status_code == 404
    assert client.delete(path, headers=admin_h).status_code == 204
    assert client.get(path).status_code == 404
    assert client.delete(f"/posts/{draft['id']}", headers=alice_h).status_code == 204


@pytest.mark.parametrize(
    "payload",
    [
        {"author_id": 2},
        {"id": 9},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"updated_at": "2020-01-01T00:00:00Z"},
        {"title": None},
        {"title": ""},
    ],
)
def test_patch_rejects_protected_fields(client: TestClient, authors, payload) -> None:
    _, headers = authors["alice"]
    post = make_post(client, headers)
    response = client.patch(f"/posts/{post['id']}", headers=headers, json=payload)
    assert response.status_code == 422
    assert client.get(f"/posts/{post['id']}", headers=headers).json()["title"] == "A title"


def test_updated_at_moves_on_change(client: TestClient, authors) -> None:
    _, headers = authors["alice"]
    post = make_post(client, headers)
    time.sleep(0.01)
    changed = client.patch(f"/posts/{post['id']}", headers=headers, json={"content": "New"}).json()
    assert changed["updated_at"] > post["updated_at"]
    assert changed["created_at"] == post["created_at"]


def test_my_posts_include_drafts_and_filter(client: TestClient, authors) -> None:
    _, alice_h = authors["alice"]
    _, bob_h = authors["bob"]
    make_post(client, alice_h, title="draft")
    make_post(client, alice_h, title="live", published=True)
    make_post(client, bob_h, title="bob's", published=True)
    mine = client.get("/posts/my", headers=alice_h).json()
    assert [p["title"] for p in mine["data"]] == ["live", "draft"]
    drafts = client.get("/posts/my?published=false", headers=alice_h).json()
    assert [p["title"] for p in drafts["data"]] == ["draft"]
    live = client.get("/posts/my?published=true", headers=alice_h).json()
    assert [p["title"] for p in live["data"]] == ["live"]
    assert client.get("/posts/my").status_code == 401


def test_public_list_filters_by_author(client: TestClient, authors) -> None:
    alice, alice_h = authors["alice"]
    _, bob_h = authors["bob"]
    make_post(client, alice_h, title="a1", published=True)
    make_post(client, bob_h, title="b1", published=True)
    only_alice = client.get(f"/posts?author_id={alice.id}").json()
    assert [p["title"] for p in only_alice["data"]] == ["a1"]
    assert only_alice["data"][0]["author"]["name"] == "Alice"
    assert "email" not in str(only_alice)


def test_search_is_case_insensitive_and_literal(client: TestClient, authors) -> None:
    _, headers = authors["alice"]
    titles = [
        "100% sure",
        "100 percent",
        "snake_case",
        "snakeXcase",
        r"back\slash",
        "backslash",
        "Ünïcode Straße",
    ]
    for title in titles:
        make_post(client, headers, title=title, content="body", published=True)
    make_post(client, headers, title="hidden draft", content="100% hidden")

    def search(q: str) -> list[str]:
        response = client.get("/posts", params={"q": q, "per_page": 100})
        assert response.status_code == 200
        return sorted(p["title"] for p in response.json()["data"])

    assert search("100%") == ["100% sure"]
    assert search("_case") == ["snake_case"]
    assert search("\\s") == [r"back\slash"]
    assert search("SNAKE") == ["snakeXcase", "snake_case"]
    assert search("ünïCODE") == ["Ünïcode Straße"]
    assert search("BODY") == sorted(titles)  # content matches too
    assert search("%") == ["100% sure"]
    assert search("nothing-like-this") == []


def test_page_maths_and_order(client: TestClient, authors) -> None:
    _, headers = authors["alice"]
    empty = client.get("/posts").json()
    assert empty == {
        "data": [],
        "total": 0,
        "page": 1,
        "per_page": 10,
        "total_pages": 0,
        "has_next": False,
        "has_prev": False,
    }
    ids = [make_post(client, headers, title=f"p{i}", published=True)["id"] for i in range(23)]
    first = client.get("/posts?per_page=10").json()
    assert (first["total"], first["total_pages"], first["has_next"], first["has_prev"]) == (
        23,
        3,
        True,
        False,
    )
    assert [p["id"] for p in first["data"]] == ids[::-1][:10]
    third = client.get("/posts?per_page=10&page=3").json()
    assert [p["id"] for p in third["data"]] == ids[::-1][20:]
    assert third["has_next"] is False and third["has_prev"] is True
    beyond = client.get("/posts?per_page=10&page=4").json()
    assert beyond["data"] == [] and beyond["total"] == 23
    for bad in ("per_page=101", "per_page=0", "page=0", "author_id=0"):
        assert client.get(f"/posts?{bad}").status_code == 422


def test_same_timestamp_ties_break_by_id(client: TestClient, authors, db: Session) -> None:
    alice, _ = authors["alice"]
    moment = db.scalar(select(func.max(Post.published_at)))  # None is fine: default applies
    rows = [post_row(alice.id, f"t{i}", published=True) for i in range(5)]
    db.add_all(rows)
    db.flush()
    same = rows[0].published_at if moment is None else moment
    for row in rows:
        row.published_at = same
    db.commit()
    listed = [p["id"] for p in client.get("/posts?per_page=3").json()["data"]]
    listed += [p["id"] for p in client.get("/posts?per_page=3&page=2").json()["data"]]
    assert listed == sorted((r.id for r in rows), reverse=True)


def test_list_with_authors_takes_constant_statements(
    client: TestClient, make_user, db: Session
) -> None:
    writers = [make_user(f"w{i}@example.com") for i in range(30)]
    rows = [
        post_row(writers[i % 30].id, f"t{i}", published=True, comment_count=i) for i in range(60)
    ]
    db.add_all(rows)
    db.flush()
    for row in rows:
        row.tags = ["shared", f"own-{row.id}"]
        db.add_all(PostTag(post_id=row.id, name=name) for name in row.tags)
    db.commit()
    for query in ("", "&tag=shared"):
        counts = {}
        for per_page in (2, 30, 50):
            with count_statements(db) as statements:
                response = client.get(f"/posts?per_page={per_page}{query}")
            assert response.status_code == 200
            data = response.json()["data"]
            assert len(data) == per_page and response.json()["total"] == 60
            assert len({p["author"]["id"] for p in data}) == min(per_page, 30)
            assert all(p["tags"] == ["shared", f"own-{p['id']}"] for p in data)
            assert all(p["comment_count"] == int(p["title"][1:]) for p in data)
            counts[per_page] = len(statements)
        assert counts[2] == counts[30] == counts[50] <= 2, (query, counts)


def test_deleting_a_user_deletes_their_posts(client: TestClient, authors, db: Session) -> None:
    alice, alice_h = authors["alice"]
    make_post(client, alice_h, published=True)
    assert client.delete("/users/me", headers=alice_h).status_code == 204
    assert db.scalar(select(func.count()).select_from(Post).where(Post.author_id == alice.id)) == 0
    assert client.get("/posts").json()["total"] == 0
