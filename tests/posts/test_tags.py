"""Tags: normalised on write, validated, filtered on with ?tag=, counted by GET /tags over public
posts only."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.posts.models import PostTag
from app.users.models import User
from tests.utils.accounts import bearer, login
from tests.utils.posts import make_post


@pytest.fixture
def alice(client: TestClient, make_user: Callable[..., User]) -> dict[str, str]:
    user = make_user("alice@example.com", name="Alice")
    return bearer(login(client, user.email)["access_token"])


def test_tags_stored_normalised_without_duplicates(
    client: TestClient, alice: dict[str, str], db: Session
) -> None:
    given = ["  Python ", "python", "Web  Dev", "web\u00a0dev", "CAFÉ", "cafe\u0301"]
    post = make_post(client, alice, tags=given)
    assert post["tags"] == ["python", "web-dev", "café"]
    rows = db.scalars(select(PostTag.name).where(PostTag.post_id == post["id"]))
    assert sorted(rows) == ["café", "python", "web-dev"]
    changed = client.patch(f"/posts/{post['id']}", headers=alice, json={"tags": ["Other"]})
    assert changed.json()["tags"] == ["other"]
    rows = db.scalars(select(PostTag.name).where(PostTag.post_id == post["id"]))
    assert list(rows) == ["other"]
    cleared = client.patch(f"/posts/{post['id']}", headers=alice, json={"tags": []})
    assert cleared.json()["tags"] == []


@pytest.mark.parametrize(
    "tags",
    [
        [f"t{i}" for i in range(11)],
        ["   "],
        [""],
        ["x" * 41],
        ["bad\x00tag"],
        ["tab\there"],
        ["bidi\u202etag"],
        ["İ" * 30],  # 60 characters once lower-cased
        "python",
        [1],
    ],
)
def test_bad_tags_are_422(client: TestClient, alice: dict[str, str], tags: object) -> None:
    body = {"title": "t", "content": "c", "tags": tags}
    response = client.post("/posts", headers=alice, json=body)
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_FAILED"


def test_list_by_tag_normalises_the_query(client: TestClient, alice: dict[str, str]) -> None:
    tagged = make_post(client, alice, title="a", tags=["Web Dev"], published=True)
    make_post(client, alice, title="b", tags=["other"], published=True)
    make_post(client, alice, title="draft", tags=["web dev"])
    for query in ("web-dev", " Web  Dev ", "WEB-DEV"):
        listed = client.get("/posts", params={"tag": query}).json()
        assert [p["id"] for p in listed["data"]] == [tagged["id"]], query
        assert listed["total"] == 1
    assert client.get("/posts", params={"tag": "nothing"}).json()["total"] == 0
    for bad in ("", "   ", "x" * 41, "a\x01b"):
        assert client.get("/posts", params={"tag": bad}).status_code == 422, bad


def test_tags_count_public_posts_most_used_first(client: TestClient, alice: dict[str, str]) -> None:
    assert client.get("/tags").json()["total"] == 0
    make_post(client, alice, tags=["b", "common"], published=True)
    make_post(client, alice, tags=["a", "common"], published=True)
    make_post(client, alice, tags=["c", "common"], published=True)
    make_post(client, alice, tags=["a"], published=True)
    make_post(client, alice, tags=["draft-only", "common"])
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    make_post(client, alice, tags=["scheduled-only", "a"], published=True, published_at=later)
    page = client.get("/tags").json()
    assert page["data"] == [
        {"name": "common", "post_count": 3},
        {"name": "a", "post_count": 2},
        {"name": "b", "post_count": 1},
        {"name": "c", "post_count": 1},
    ]
    assert page["total"] == 4
    second = client.get("/tags?per_page=3&page=2").json()
    assert second["data"] == [{"name": "c", "post_count": 1}] and second["total"] == 4
    assert client.get("/tags?per_page=101").status_code == 422
