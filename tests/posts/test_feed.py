"""GET /feed.xml: a valid Atom feed of the newest public posts, filtered by author or tag."""

from datetime import timedelta

import feedparser
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.models import utcnow
from app.posts.feed import FEED_SIZE
from tests.utils.accounts import bearer, login
from tests.utils.posts import make_post, post_row

FRONTEND = "http://localhost:3000"


@pytest.fixture
def writers(client: TestClient, make_user):
    people = {}
    for name in ("alice", "bob"):
        user = make_user(f"{name}@example.com", name=name.title())
        people[name] = (user, bearer(login(client, user.email)["access_token"]))
    return people


def parse(client: TestClient, url: str = "/feed.xml"):
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_entries_fields_and_order(client: TestClient, writers) -> None:
    _, alice_h = writers["alice"]
    first = make_post(client, alice_h, title="First", content="Hello **world**", published=True)
    second = make_post(client, alice_h, title="Second <b>", content="Again", published=True)
    feed = parse(client)
    assert [e.title for e in feed.entries] == ["Second <b>", "First"]
    entry = feed.entries[1]
    assert entry.link == f"{FRONTEND}/posts/{first['slug']}"
    assert entry.links[0].rel == "alternate"
    assert entry.id.startswith("tag:localhost,") and entry.id.endswith(f":posts/{first['id']}")
    assert entry.author == "Alice"
    assert entry.summary == first["excerpt"]
    assert entry.content[0].type == "text/html"
    assert "<strong>world</strong>" in entry.content[0].value
    assert entry.published_parsed[:6] == _tuple(first["published_at"])
    assert entry.updated_parsed[:6] == _tuple(first["updated_at"])
    # The feed: title, self and alternate links, updated = the newest change of an entry.
    assert feed.feed.title == "Quill"
    rels = {link.rel: link.href for link in feed.feed.links}
    assert rels == {"self": "http://testserver/feed.xml", "alternate": f"{FRONTEND}/"}
    assert feed.feed.updated_parsed[:6] == _tuple(max(first["updated_at"], second["updated_at"]))


def _tuple(iso: str) -> tuple[int, ...]:
    from datetime import datetime

    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.utctimetuple()[:6]


def test_drafts_and_scheduled_posts_are_absent(client: TestClient, db: Session, writers) -> None:
    alice, alice_h = writers["alice"]
    make_post(client, alice_h, title="Draft")
    later = post_row(alice.id, "Scheduled", published=True)
    later.published_at = utcnow() + timedelta(hours=1)
    db.add(later)
    db.commit()
    make_post(client, alice_h, title="Public", published=True)
    assert [e.title for e in parse(client).entries] == ["Public"]


def test_html_content_is_sanitised(client: TestClient, writers) -> None:
    _, alice_h = writers["alice"]
    content = '<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror="a()">'
    make_post(client, alice_h, title="Hostile", content=content, published=True)
    # feedparser's own sanitising is off: it would hide a failure of ours.
    parsed = feedparser.parse(client.get("/feed.xml").content, sanitize_html=False)
    assert not parsed.bozo
    content = parsed.entries[0].content[0]
    assert content.type == "text/html"
    html = content.value
    assert "&lt;script&gt;" in html  # shown as text
    for bad in ("<script", "<img", 'href="javascript:'):
        assert bad not in html


def test_newest_twenty_by_published_at(client: TestClient, db: Session, writers) -> None:
    alice, _ = writers["alice"]
    now = utcnow()
    rows = [post_row(alice.id, f"p{i}", published=True) for i in range(FEED_SIZE + 3)]
    for i, row in enumerate(rows):
        row.published_at = now - timedelta(minutes=i)  # p0 newest
    db.add_all(reversed(rows))  # created in the other order: published_at decides
    db.commit()
    titles = [e.title for e in parse(client).entries]
    assert titles == [f"p{i}" for i in range(FEED_SIZE)]


def test_filters(client: TestClient, writers) -> None:
    alice, alice_h = writers["alice"]
    bob, bob_h = writers["bob"]
    make_post(client, alice_h, title="A py", tags=["Python Tips"], published=True)
    make_post(client, alice_h, title="A go", tags=["go"], published=True)
    make_post(client, bob_h, title="B py", tags=["python tips"], published=True)
    by_alice = parse(client, f"/feed.xml?author_id={alice.id}")
    assert [e.title for e in by_alice.entries] == ["A go", "A py"]
    assert by_alice.feed.title == "Quill: Alice"
    tagged = parse(client, "/feed.xml?tag=%20PYTHON%20%20tips%20")
    assert [e.title for e in tagged.entries] == ["B py", "A py"]
    self_link = next(link.href for link in tagged.feed.links if link.rel == "self")
    assert self_link == "http://testserver/feed.xml?tag=python-tips"
    both = parse(client, f"/feed.xml?author_id={bob.id}&tag=python-tips")
    assert [e.title for e in both.entries] == ["B py"]
    # Nothing matches, an unknown author included: an empty, still valid feed.
    for url in ("/feed.xml?author_id=999999", "/feed.xml?tag=nothing"):
        empty = parse(client, url)
        assert empty.entries == [] and empty.feed.updated.startswith("1970-01-01")


@pytest.mark.parametrize(
    "query",
    [
        "author_id=0",
        "author_id=x",
        "author_id=2147483648",
        "tag=",
        "tag=%20",
        "tag=" + "a" * 41,
        "tag=a%00b",
    ],
)
def test_bad_filters_are_422(client: TestClient, query: str) -> None:
    response = client.get(f"/feed.xml?{query}")
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"


def test_same_posts_same_bytes(client: TestClient, writers) -> None:
    _, alice_h = writers["alice"]
    make_post(client, alice_h, title="Stable", published=True)
    assert client.get("/feed.xml").content == client.get("/feed.xml").content


def test_public_base_url_and_feed_title(app: FastAPI, client: TestClient, writers) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"public_base_url": "https://api.example.com", "feed_title": "My blog"}
    )
    feed = parse(client)
    assert feed.feed.title == "My blog"
    assert feed.feed.id == "https://api.example.com/feed.xml"


def test_text_xml_cannot_carry_is_replaced(client: TestClient, db: Session, writers) -> None:
    alice, _ = writers["alice"]
    db.add(post_row(alice.id, "Odd", content="a\ufffeb", published=True))
    db.commit()
    assert "a\ufffdb" in parse(client).entries[0].content[0].value


def test_head(client: TestClient) -> None:
    response = client.head("/feed.xml")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "application/atom+xml"
