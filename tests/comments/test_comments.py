"""Comments over HTTP: the page, who sees a post's comments, who may write, change and delete
one, what a body may hold, and the post's comment_count."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from tests.utils.comments import Person, make_comment
from tests.utils.db import count_statements
from tests.utils.posts import make_post


def _published(client: TestClient, person: Person) -> int:
    return int(make_post(client, person.headers, published=True)["id"])


def test_a_page_of_comments_oldest_first_with_authors(
    client: TestClient, people: dict[str, Person]
) -> None:
    post_id = _published(client, people["alice"])
    first = make_comment(client, people["bob"].headers, post_id, "first")
    second = make_comment(client, people["carol"].headers, post_id, "second\n\twith lines\r\n")
    assert first["post_id"] == post_id and first["author"]["name"] == "Bob"
    page = client.get(f"/posts/{post_id}/comments").json()  # anonymous
    assert [c["id"] for c in page["data"]] == [first["id"], second["id"]]
    assert page["data"][1]["body"] == "second\n\twith lines\r\n"
    assert page["total"] == 2 and page["total_pages"] == 1 and not page["has_next"]
    assert set(page["data"][0]) == {"id", "post_id", "body", "author", "created_at", "updated_at"}
    assert set(page["data"][0]["author"]) == {"id", "name", "bio", "avatar_url", "created_at"}
    later = client.get(f"/posts/{post_id}/comments?per_page=1&page=2").json()
    assert [c["id"] for c in later["data"]] == [second["id"]]
    assert later["total"] == 2 and later["has_prev"] and not later["has_next"]


def test_comments_at_the_same_instant_are_ordered_by_id(
    client: TestClient, people: dict[str, Person], db: Session
) -> None:
    post_id = _published(client, people["alice"])
    ids = [make_comment(client, people["bob"].headers, post_id)["id"] for _ in range(4)]
    same = datetime(2026, 1, 1, tzinfo=UTC)
    for comment in db.scalars(select(Comment).where(Comment.post_id == post_id)):
        comment.created_at = same
    db.commit()
    listed = [c["id"] for c in client.get(f"/posts/{post_id}/comments?per_page=2").json()["data"]]
    listed += [
        c["id"] for c in client.get(f"/posts/{post_id}/comments?per_page=2&page=2").json()["data"]
    ]
    assert listed == sorted(ids)


def test_a_page_takes_the_same_statements_whatever_its_size(
    client: TestClient, people: dict[str, Person], make_user, db: Session
) -> None:
    post_id = _published(client, people["alice"])
    writers = [make_user(f"w{i}@example.com") for i in range(30)]
    db.add_all(Comment(post_id=post_id, author_id=w.id, body="hi") for w in writers * 2)
    db.commit()
    counts = {}
    for per_page in (2, 30, 50):
        with count_statements(db) as statements:
            response = client.get(f"/posts/{post_id}/comments?per_page={per_page}")
        assert response.status_code == 200
        assert len({c["author"]["id"] for c in response.json()["data"]}) == min(per_page, 30)
        counts[per_page] = len(statements)
    # One of them reads the public version first (app/api/page_cache.py).
    assert counts[2] == counts[30] == counts[50] <= 4, counts


@pytest.mark.parametrize("kind", ["draft", "scheduled"])
def test_a_hidden_posts_comments_exist_only_for_its_author(
    client: TestClient, people: dict[str, Person], kind: str
) -> None:
    alice = people["alice"]
    fields: dict[str, object] = {"published": False}
    if kind == "scheduled":
        later = datetime.now(UTC) + timedelta(days=1)
        fields = {"published": True, "published_at": later.isoformat()}
    post_id = make_post(client, alice.headers, **fields)["id"]
    mine = make_comment(client, alice.headers, post_id, "note to self")
    path = f"/posts/{post_id}/comments"
    assert client.get(path, headers=alice.headers).json()["total"] == 1
    for headers in (people["bob"].headers, people["admin"].headers, {}):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"
        assert "note to self" not in answer.text
    for who in ("bob", "admin"):
        headers = people[who].headers
        assert client.post(path, headers=headers, json={"body": "x"}).status_code == 404
        comment = f"/comments/{mine['id']}"
        assert client.patch(comment, headers=headers, json={"body": "x"}).status_code == 404
        assert client.delete(comment, headers=headers).status_code == 404


def test_comments_hide_with_their_post_when_it_goes_back_to_draft(
    client: TestClient, people: dict[str, Person]
) -> None:
    alice, bob = people["alice"], people["bob"]
    post_id = _published(client, alice)
    theirs = make_comment(client, bob.headers, post_id)
    patched = client.patch(f"/posts/{post_id}", headers=alice.headers, json={"published": False})
    assert patched.status_code == 200
    path = f"/comments/{theirs['id']}"
    assert client.patch(path, headers=bob.headers, json={"body": "x"}).status_code == 404
    assert client.delete(path, headers=bob.headers).status_code == 404
    assert client.get(f"/posts/{post_id}/comments", headers=bob.headers).status_code == 404
    assert client.delete(path, headers=alice.headers).status_code == 204


def test_writing_needs_credentials(client: TestClient, people: dict[str, Person]) -> None:
    post_id = _published(client, people["alice"])
    comment = make_comment(client, people["bob"].headers, post_id)
    for method, path, body in (
        ("POST", f"/posts/{post_id}/comments", {"body": "x"}),
        ("PATCH", f"/comments/{comment['id']}", {"body": "x"}),
        ("DELETE", f"/comments/{comment['id']}", None),
    ):
        answer = client.request(method, path, json=body)
        assert answer.status_code == 401, (method, answer.text)
        assert answer.json()["code"] == "NOT_AUTHENTICATED"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(f"/posts/{post_id}/comments").json()["data"][0]["body"] == "A comment"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"body": ""}, "string_too_short"),
        ({"body": "x" * 5001}, "string_too_long"),
        ({"body": "bad\x00text"}, "control_character"),
        ({"body": "bell\x07"}, "control_character"),
        ({"body": "x", "author_id": 1}, "extra_forbidden"),
        ({}, "missing"),
        ({"body": 5}, "string_type"),
    ],
)
def test_bad_bodies_are_422_and_write_nothing(
    client: TestClient, people: dict[str, Person], body: dict[str, object], kind: str
) -> None:
    bob = people["bob"]
    post_id = _published(client, people["alice"])
    comment = make_comment(client, bob.headers, post_id, "kept")
    for method, path in (
        ("POST", f"/posts/{post_id}/comments"),
        ("PATCH", f"/comments/{comment['id']}"),
    ):
        answer = client.request(method, path, headers=bob.headers, json=body)
        assert answer.status_code == 422, answer.text
        envelope = answer.json()
        assert envelope["code"] == "VALIDATION_FAILED" and envelope["success"] is False
        assert kind in {item["type"] for item in envelope["errors"]}, envelope
    page = client.get(f"/posts/{post_id}/comments").json()
    assert [c["body"] for c in page["data"]] == ["kept"]
    assert client.get(f"/posts/{post_id}").json()["comment_count"] == 1


def test_the_longest_body_is_accepted(client: TestClient, people: dict[str, Person]) -> None:
    post_id = _published(client, people["alice"])
    longest = "é" * 4999 + "😀"
    assert make_comment(client, people["bob"].headers, post_id, longest)["body"] == longest
    assert client.get(f"/posts/{post_id}/comments").json()["data"][0]["body"] == longest


def test_only_the_author_edits_a_comment(client: TestClient, people: dict[str, Person]) -> None:
    post_id = _published(client, people["alice"])
    comment = make_comment(client, people["bob"].headers, post_id, "before")
    path = f"/comments/{comment['id']}"
    for who in ("alice", "carol", "admin"):
        answer = client.patch(path, headers=people[who].headers, json={"body": "hijacked"})
        assert answer.status_code == 403, (who, answer.text)
        assert answer.json()["code"] == "FORBIDDEN"
    edited = client.patch(path, headers=people["bob"].headers, json={"body": "after"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["body"] == "after" and edited.json()["author"]["name"] == "Bob"
    assert client.get(f"/posts/{post_id}/comments").json()["data"][0]["body"] == "after"


def test_an_edit_moves_updated_at_only(client: TestClient, people: dict[str, Person]) -> None:
    post_id = _published(client, people["alice"])
    comment = make_comment(client, people["bob"].headers, post_id, "same")
    assert comment["updated_at"] == comment["created_at"]
    path = f"/comments/{comment['id']}"
    edited = client.patch(path, headers=people["bob"].headers, json={"body": "same"}).json()
    assert edited["created_at"] == comment["created_at"]
    assert edited["updated_at"] > comment["updated_at"]
    listed = client.get(f"/posts/{post_id}/comments").json()["data"][0]
    assert listed["created_at"] == comment["created_at"]
    assert listed["updated_at"] == edited["updated_at"]


@pytest.mark.parametrize(
    ("who", "status"), [("bob", 204), ("alice", 204), ("admin", 204), ("carol", 403)]
)
def test_who_may_delete_a_comment(
    client: TestClient, people: dict[str, Person], who: str, status: int
) -> None:
    post_id = _published(client, people["alice"])
    comment = make_comment(client, people["bob"].headers, post_id)
    answer = client.delete(f"/comments/{comment['id']}", headers=people[who].headers)
    assert answer.status_code == status, answer.text
    left = client.get(f"/posts/{post_id}/comments").json()["total"]
    assert left == (0 if status == 204 else 1)
    assert client.get(f"/posts/{post_id}").json()["comment_count"] == left
    again = client.delete(f"/comments/{comment['id']}", headers=people["bob"].headers)
    assert again.status_code == (404 if status == 204 else 204)


def test_unknown_posts_and_comments_are_404(client: TestClient, people: dict[str, Person]) -> None:
    bob = people["bob"].headers
    assert client.get("/posts/999999/comments").status_code == 404
    assert client.post("/posts/999999/comments", headers=bob, json={"body": "x"}).status_code == 404
    assert client.patch("/comments/999999", headers=bob, json={"body": "x"}).status_code == 404
    assert client.delete("/comments/999999", headers=bob).status_code == 404
    assert client.get("/posts/0/comments").status_code == 422
    assert client.delete("/comments/0", headers=bob).status_code == 422


def test_comment_count_in_every_post_answer(client: TestClient, people: dict[str, Person]) -> None:
    alice, bob = people["alice"], people["bob"]
    post_id = _published(client, alice)
    comments = [make_comment(client, bob.headers, post_id) for _ in range(3)]
    client.delete(f"/comments/{comments[0]['id']}", headers=bob.headers)

    def counts() -> set[int]:
        listed = client.get("/posts").json()["data"]
        mine = client.get("/posts/my", headers=alice.headers).json()["data"]
        return {
            client.get(f"/posts/{post_id}").json()["comment_count"],
            *(p["comment_count"] for p in listed if p["id"] == post_id),
            *(p["comment_count"] for p in mine if p["id"] == post_id),
        }

    assert counts() == {2}
    make_comment(client, alice.headers, post_id)
    assert counts() == {3}
