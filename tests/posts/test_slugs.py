"""Slugs: made from the title, numbered on a clash, settable, unique under concurrent creation;
GET /posts/slug/{slug} with the visibility of GET /posts/{id}."""

import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.posts import service as posts
from app.posts import slug_claims
from app.posts.errors import SlugTakenError
from app.posts.models import Post
from app.posts.schemas import PostCreate
from app.users.models import User
from tests.utils.accounts import bearer, login
from tests.utils.db import committed_user
from tests.utils.posts import make_post, post_row

RACERS = 10


@pytest.fixture
def alice(client: TestClient, make_user: Callable[..., User]) -> dict[str, str]:
    user = make_user("alice@example.com", name="Alice")
    return bearer(login(client, user.email)["access_token"])


@pytest.fixture
def bob(client: TestClient, make_user: Callable[..., User]) -> dict[str, str]:
    user = make_user("bob@example.com", name="Bob")
    return bearer(login(client, user.email)["access_token"])


def test_slug_from_title_numbered_on_clash(client: TestClient, alice: dict[str, str]) -> None:
    slugs = [make_post(client, alice, title="Héllo, Wörld!")["slug"] for _ in range(3)]
    assert slugs == ["hello-world", "hello-world-2", "hello-world-3"]
    assert make_post(client, alice, title="🎉🎉")["slug"] == "post"
    long = make_post(client, alice, title="word " * 40)["slug"]
    assert len(long) <= 100 and not long.endswith("-")
    again = make_post(client, alice, title="word " * 40)["slug"]
    assert again.endswith("-2") and len(again) <= 100


def test_slug_set_on_create_and_patch(client: TestClient, alice: dict[str, str]) -> None:
    post = make_post(client, alice, title="Title", slug="my-own")
    assert post["slug"] == "my-own"
    path = f"/posts/{post['id']}"
    renamed = client.patch(path, headers=alice, json={"title": "Another title"}).json()
    assert renamed["slug"] == "my-own"  # the title does not move the slug
    moved = client.patch(path, headers=alice, json={"slug": "moved-here"})
    assert moved.status_code == 200 and moved.json()["slug"] == "moved-here"
    same = client.patch(path, headers=alice, json={"slug": "moved-here"})
    assert same.status_code == 200  # its own slug is not "taken"


def test_taken_slug_is_409_and_nothing_changes(
    client: TestClient, alice: dict[str, str], db: Session
) -> None:
    first = make_post(client, alice, title="First", slug="taken")
    other = make_post(client, alice, title="Other")
    created = client.post(
        "/posts", headers=alice, json={"title": "x", "content": "y", "slug": "taken"}
    )
    assert created.status_code == 409 and created.json()["code"] == "SLUG_TAKEN"
    assert db.scalar(select(func.count()).select_from(Post)) == 2
    path = f"/posts/{other['id']}"
    patched = client.patch(path, headers=alice, json={"slug": "taken", "title": "Changed"})
    assert patched.status_code == 409 and patched.json()["code"] == "SLUG_TAKEN"
    unchanged = client.get(path, headers=alice).json()
    assert unchanged["slug"] == "other" and unchanged["title"] == "Other"
    assert client.get("/posts/slug/taken", headers=alice).json()["id"] == first["id"]


@pytest.mark.parametrize(
    "slug", ["Upper", "under_score", "-lead", "trail-", "dou--ble", "a" * 101, "sp ace", "é"]
)
def test_malformed_slug_is_422_on_write(client: TestClient, alice: dict[str, str], slug) -> None:
    body = {"title": "t", "content": "c", "slug": slug}
    response = client.post("/posts", headers=alice, json=body)
    assert response.status_code == 422


def test_read_by_slug_visibility(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], make_user
) -> None:
    admin = make_user("admin@example.com", is_admin=True)
    admin_h = bearer(login(client, admin.email)["access_token"])
    public = make_post(client, alice, title="Open", published=True)
    draft = make_post(client, alice, title="Hidden")
    shown = client.get("/posts/slug/open")
    assert shown.status_code == 200 and shown.json() == client.get(f"/posts/{public['id']}").json()
    assert shown.json()["author"]["name"] == "Alice"
    assert client.get("/posts/slug/hidden", headers=alice).json()["id"] == draft["id"]
    for headers in ({}, bob, admin_h):
        missing = client.get("/posts/slug/hidden", headers=headers)
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("slug", ["NOPE", "a_b", "a" * 101])
def test_malformed_slug_read_is_404(client: TestClient, slug: str) -> None:
    response = client.get(f"/posts/slug/{slug}")
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


def test_slug_route_not_shadowed_by_id_route(client: TestClient, alice: dict[str, str]) -> None:
    """Slugs that look like ids or like the id route's sub-paths still reach the slug route."""
    for slug in ("123", "cover", "my"):
        post = make_post(client, alice, title="t", slug=slug, published=True)
        found = client.get(f"/posts/slug/{slug}")
        assert found.status_code == 200 and found.json()["id"] == post["id"], slug
    assert client.get("/posts/slug").status_code == 422  # `slug` is not an id


# --- concurrent creation on real sessions (the test's rolled-back one would serialise them) ------


@pytest.fixture
def racer(session_factory: sessionmaker[Session], password_hash: str) -> Iterator[User]:
    email = "racer@example.com"
    with committed_user(session_factory, email=email, hashed_password=password_hash) as user:
        yield user
        with session_factory() as session:
            session.execute(delete(Post).where(Post.author_id == user.id))
            session.commit()


def _race(session_factory: sessionmaker[Session], author: User, data: PostCreate) -> list[object]:
    """RACERS creations released together, each on its own session and thread: the slug each
    got, or the exception it raised."""
    barrier = threading.Barrier(RACERS)
    outcomes: list[object] = []
    lock = threading.Lock()

    def create() -> None:
        outcome: object
        with session_factory() as session:
            barrier.wait()
            try:
                outcome = posts.create_post(session, author=author, data=data).slug
            except Exception as exc:  # the assertion below names it
                outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == RACERS
    return outcomes


def test_concurrent_posts_with_one_title_get_distinct_slugs(
    session_factory: sessionmaker[Session], racer: User
) -> None:
    outcomes = _race(session_factory, racer, PostCreate(title="Race Day", content="c"))
    assert all(isinstance(o, str) for o in outcomes), outcomes
    expected = {"race-day"} | {f"race-day-{n}" for n in range(2, RACERS + 1)}
    assert set(outcomes) == expected


def test_concurrent_posts_with_one_explicit_slug_one_wins(
    session_factory: sessionmaker[Session], racer: User
) -> None:
    data = PostCreate(title="t", content="c", slug="wanted-by-all")
    outcomes = _race(session_factory, racer, data)
    assert outcomes.count("wanted-by-all") == 1, outcomes
    losers = [o for o in outcomes if o != "wanted-by-all"]
    assert all(isinstance(o, SlugTakenError) for o in losers), losers
    with session_factory() as session:
        count = session.scalar(select(func.count()).where(Post.author_id == racer.id))
        assert count == 1


def test_crowded_title_gets_a_random_suffix_without_reading_every_slug(
    client: TestClient, alice: dict[str, str], db: Session, make_user
) -> None:
    """A title already used more than TAKEN_READ_LIMIT times: the new post still gets a free slug,
    from a random suffix, instead of reading every numbered form on each new post."""
    author = make_user("crowd@example.com")
    db.add_all(
        post_row(author.id, "Crowd", slug="crowd" if n == 1 else f"crowd-{n}")
        for n in range(1, slug_claims.TAKEN_READ_LIMIT + 3)
    )
    db.commit()
    slug = make_post(client, alice, title="Crowd")["slug"]
    base, number = slug.rsplit("-", 1)
    assert base == "crowd" and int(number) > slug_claims.TAKEN_READ_LIMIT + 2
