"""A kept public page answered before routing (app/api/public_pages.py): the same bytes and
headers as the route's own answers, the route not run, the marker still read every time."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert
from sqlalchemy.exc import OperationalError

from app.api import caching, page_cache
from app.api.list_lane import ListLane
from app.core.models import Base, utcnow
from app.posts import changes
from app.posts.models import PostSchedule, PublicVersion
from tests.utils.accounts import bearer, login
from tests.utils.asgi import raw_get, steady
from tests.utils.posts import make_post


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs rendered or checked for a 304 (app.api.caching.versioned, on the route, and the
    list's lane before routing, app.api.list_lane), rather than answered from a kept page."""
    seen: list[str] = []
    real, lane = caching.versioned, ListLane._respond

    async def counting(request: Any, handler: Any) -> Any:
        seen.append(request.url.path)
        return await real(request, handler)

    async def counting_lane(self: ListLane, request: Any, *args: Any) -> Any:
        seen.append(request.url.path)
        return await lane(self, request, *args)

    monkeypatch.setattr(caching, "versioned", counting)
    monkeypatch.setattr(ListLane, "_respond", counting_lane)
    return seen


@pytest.fixture
def published(client: TestClient, make_user) -> dict[str, Any]:
    user = make_user("pages@example.com", name="Pages")
    h = bearer(login(client, user.email)["access_token"])
    return make_post(client, h, title="Kept", published=True)


@pytest.mark.parametrize("origin", [(), ((b"origin", b"http://localhost:3000"),)])
def test_a_kept_page_has_the_bytes_and_headers_of_the_rendered_one(
    app: FastAPI, client: TestClient, published, routed: list[str], origin
) -> None:
    url = "/posts?per_page=5"
    status, rendered, body = raw_get(app, url, *origin)
    assert status == 200 and routed == ["/posts"]
    etag = dict(rendered)[b"etag"]
    status, kept, kept_body = raw_get(app, url, *origin)
    assert status == 200 and routed == ["/posts"], "the kept page went through routing"
    assert kept_body == body and b"Kept" in body
    assert steady(kept) == steady(rendered)
    assert dict(kept)[b"x-request-id"] != dict(rendered)[b"x-request-id"]

    # The 304 of the route (a URL this app has not kept) and the one before routing: the same.
    status, routed_304, empty = raw_get(app, url + "&other=1", (b"if-none-match", b"*"), *origin)
    assert status == 304 and empty == b"" and routed[-1] == "/posts" and len(routed) == 2
    status, early_304, empty = raw_get(app, url, (b"if-none-match", etag), *origin)
    assert status == 304 and empty == b"" and len(routed) == 2
    assert [name for name, _ in steady(early_304)] == [name for name, _ in steady(routed_304)]
    assert dict(early_304)[b"etag"] == etag
    assert dict(early_304)[b"cache-control"] == dict(rendered)[b"cache-control"]


def test_credentials_and_other_urls_go_to_the_route(
    app: FastAPI, client: TestClient, published, routed: list[str]
) -> None:
    url = "/posts?per_page=5"
    raw_get(app, url)
    # Credentials: the route's own answer (private), never the kept page.
    status, headers, _ = raw_get(app, url, (b"authorization", b"Bearer x"))
    assert status == 200 and dict(headers)[b"cache-control"] == b"private, no-cache"
    # Only the first of a header counts, as for the route (Headers.get): an empty one is none.
    status, headers, _ = raw_get(app, url, (b"x-api-key", b""), (b"x-api-key", b"later"))
    assert status == 200 and dict(headers)[b"cache-control"].startswith(b"public")
    assert routed == ["/posts"]
    raw_get(app, url + "&page=1")
    assert routed == ["/posts", "/posts"]


def test_a_write_is_seen_by_the_next_kept_read(
    client: TestClient, make_user, routed: list[str]
) -> None:
    user = make_user("writer@example.com", name="Writer")
    h = bearer(login(client, user.email)["access_token"])
    post = make_post(client, h, title="Before", published=True)
    assert "Before" in client.get("/posts").text and "Before" in client.get("/posts").text
    assert len(routed) == 1
    assert client.patch(f"/posts/{post['id']}", headers=h, json={"title": "After"}).is_success
    assert "After" in client.get("/posts").text and len(routed) == 2


def test_a_failed_marker_read_is_answered_by_the_route(
    client: TestClient, published, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.get("/posts")

    async def down(_app: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("gone"))

    monkeypatch.setattr(page_cache, "read_marker", down)
    answer = client.get("/posts")
    assert answer.status_code == 503 and answer.json()["code"] == "DATABASE_UNAVAILABLE"


def test_marker_reader_reads_what_the_statement_reads(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'marker.db'}")
    Base.metadata.create_all(engine, tables=[PublicVersion.__table__, PostSchedule.__table__])
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(PublicVersion), [{"shard": 0, "n": 5}, {"shard": 3, "n": 2}])
        conn.execute(
            insert(PostSchedule),
            [
                {"post_id": 1, "author_id": 1, "published_at": now - timedelta(days=1)},
                {"post_id": 2, "author_id": 1, "published_at": now - timedelta(microseconds=5)},
                {"post_id": 3, "author_id": 1, "published_at": now + timedelta(seconds=30)},
            ],
        )
    reader = changes.MarkerReader(engine)
    with engine.connect() as conn:
        assert reader() == changes.read_marker(conn) == (7, 2)
    engine.dispose()
