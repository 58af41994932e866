"""posts.comment_count against the comments themselves: deleting a post or an account removes
their comments, and the counters stay equal to count(*) whatever the mix of writes."""

import random

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from tests.utils.accounts import bearer, login
from tests.utils.comments import Person, count_mismatches, make_comment
from tests.utils.posts import make_post


def _comments(db: Session, **where: int) -> int:
    stmt = select(func.count()).select_from(Comment)
    for column, value in where.items():
        stmt = stmt.where(getattr(Comment, column) == value)
    return int(db.scalar(stmt) or 0)


def test_deleting_a_post_deletes_its_comments(
    client: TestClient, people: dict[str, Person], db: Session
) -> None:
    alice, bob = people["alice"], people["bob"]
    doomed = make_post(client, alice.headers, published=True)["id"]
    kept = make_post(client, alice.headers, published=True)["id"]
    for post_id in (doomed, doomed, kept):
        make_comment(client, bob.headers, post_id)
    assert client.delete(f"/posts/{doomed}", headers=alice.headers).status_code == 204
    db.expire_all()
    assert _comments(db, post_id=doomed) == 0
    assert _comments(db, post_id=kept) == 1
    assert count_mismatches(db) == {}


def _commented_everywhere(client: TestClient, people: dict[str, Person]) -> dict[str, int]:
    """Posts by alice, carol and bob, each with one comment by alice and by carol, bob's
    comments: two on alice's post, one on carol's, one on his own."""
    posts = {
        who: make_post(client, people[who].headers, published=True)["id"]
        for who in ("alice", "carol", "bob")
    }
    for post_id in posts.values():
        make_comment(client, people["alice"].headers, post_id)
        make_comment(client, people["carol"].headers, post_id)
    for owner in ("alice", "alice", "carol", "bob"):
        make_comment(client, people["bob"].headers, posts[owner])
    return posts


def _check_bob_is_gone(
    client: TestClient, people: dict[str, Person], db: Session, posts: dict[str, int]
) -> None:
    db.expire_all()
    assert _comments(db, author_id=people["bob"].id) == 0
    assert client.get(f"/posts/{posts['bob']}").status_code == 404
    for who in ("alice", "carol"):
        post = client.get(f"/posts/{posts[who]}").json()
        assert post["comment_count"] == 2, (who, post)
        page = client.get(f"/posts/{posts[who]}/comments").json()
        assert {c["author"]["name"] for c in page["data"]} == {"Alice", "Carol"}
    assert count_mismatches(db) == {}


def test_deleting_your_account_takes_your_comments_off_the_counts(
    client: TestClient, people: dict[str, Person], db: Session
) -> None:
    posts = _commented_everywhere(client, people)
    assert client.get(f"/posts/{posts['alice']}").json()["comment_count"] == 4
    assert client.delete("/users/me", headers=people["bob"].headers).status_code == 204
    _check_bob_is_gone(client, people, db, posts)


def test_an_admin_deleting_a_user_takes_their_comments_off_the_counts(
    client: TestClient, people: dict[str, Person], db: Session
) -> None:
    posts = _commented_everywhere(client, people)
    deleted = client.delete(f"/users/{people['bob'].id}", headers=people["admin"].headers)
    assert deleted.status_code == 204
    _check_bob_is_gone(client, people, db, posts)


def test_counts_hold_after_a_random_workload(
    client: TestClient, people: dict[str, Person], make_user, db: Session
) -> None:
    """Creates, deletes by each kind of person allowed to, posts and accounts deleted, at random
    (seeded): after every step each post's counter is its number of comments."""
    rng = random.Random(12)
    users = dict(people)
    for i in range(4):
        user = make_user(f"extra{i}@example.com")
        users[f"extra{i}"] = Person(user.id, bearer(login(client, user.email)["access_token"]))
    posts: dict[int, str] = {}  # post id -> its author's name
    comments: dict[int, tuple[str, int]] = {}  # comment id -> (its author's name, post id)
    writers = [name for name in users if name != "admin"]
    for step in range(160):
        roll = rng.random()
        if roll < 0.1 or not posts:
            who = rng.choice(writers)
            posts[make_post(client, users[who].headers, published=True)["id"]] = who
        elif roll < 0.6:
            who, post_id = rng.choice(writers), rng.choice(list(posts))
            comments[make_comment(client, users[who].headers, post_id)["id"]] = (who, post_id)
        elif roll < 0.85 and comments:
            comment_id = rng.choice(list(comments))
            author, post_id = comments.pop(comment_id)
            who = rng.choice([author, posts[post_id], "admin"])
            answer = client.delete(f"/comments/{comment_id}", headers=users[who].headers)
            assert answer.status_code == 204, answer.text
        elif roll < 0.95:
            post_id = rng.choice(list(posts))
            author = posts.pop(post_id)
            answer = client.delete(f"/posts/{post_id}", headers=users[author].headers)
            assert answer.status_code == 204, answer.text
            comments = {k: v for k, v in comments.items() if v[1] != post_id}
        elif len(writers) > 2:
            who = rng.choice(writers)
            writers.remove(who)
            assert client.delete("/users/me", headers=users[who].headers).status_code == 204
            posts = {k: v for k, v in posts.items() if v != who}
            comments = {k: v for k, v in comments.items() if v[0] != who and v[1] in posts}
        db.expire_all()
        assert count_mismatches(db) == {}, step
        assert _comments(db) == len(comments)
