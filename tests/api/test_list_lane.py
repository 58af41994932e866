"""GET /posts misses rendered before routing (app/api/list_lane.py): only for parameters the
route would take as they are, with the route's own bytes and headers, its 304, its 503."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.api import list_lane, page_cache
from app.api.list_lane import Listing, ListLane, listing
from app.core.pagination import PageParams
from app.posts import public
from tests.utils.accounts import bearer, login
from tests.utils.asgi import raw_get, steady
from tests.utils.posts import make_post


@pytest.fixture
def laned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query strings the lane rendered (or answered 304)."""
    seen: list[str] = []
    real = ListLane._respond

    async def counting(self: ListLane, request: Any, marker: Any, wanted: Listing) -> Any:
        seen.append(request.url.query)
        return await real(self, request, marker, wanted)

    monkeypatch.setattr(ListLane, "_respond", counting)
    return seen


@pytest.fixture
def blog(client: TestClient, make_user) -> dict[str, int]:
    ann = make_user("lane-ann@example.com", name="Ann")
    bob = make_user("lane-bob@example.com", name="Bob")
    ha, hb = (bearer(login(client, u.email)["access_token"]) for u in (ann, bob))
    for n in range(3):
        make_post(client, ha, title=f"Ann {n}", tags=["Python", "web dev"], published=True)
        make_post(client, hb, title=f"Bob {n}", tags=["python"] if n else [], published=True)
    make_post(client, ha, title="Ann's draft", tags=["python"])
    return {"ann": ann.id, "bob": bob.id}


def _fresh(app: FastAPI) -> None:
    app.state.public_pages = page_cache.PageCache()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", Listing(PageParams(1, 10))),
        (b"per_page=20&v=123", Listing(PageParams(1, 20))),
        (b"page=2&page=3&per_page=100", Listing(PageParams(3, 100))),  # the last one counts
        (b"author_id=7&tag=Web%20%20Dev%20", Listing(PageParams(1, 10), 7, "web-dev")),
        (b"page=1000000&author_id=2147483647", Listing(PageParams(1_000_000, 10), 2**31 - 1)),
    ],
)
def test_plain_parameters_are_read_as_the_route_reads_them(query: bytes, expected: Listing) -> None:
    assert listing(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        b"q=x", b"q=", b"page=0", b"page=01", b"page=%2B1", b"page=1_0", b"page=%201",
        b"page=", b"per_page=101", b"page=1000001", b"author_id=2147483648", b"author_id=-1",
        b"tag=", b"tag=" + b"x" * 41, b"tag=%00", b"per_page=1.0", b"page=1&page=x",
    ],
)  # fmt: skip
def test_anything_the_route_may_read_otherwise_is_left_to_it(query: bytes) -> None:
    assert listing(query) is None


def test_the_lane_answers_what_the_route_answers(
    app: FastAPI, client: TestClient, blog: dict[str, int], laned: list[str]
) -> None:
    urls = [
        "/posts",
        "/posts?per_page=2&page=2",
        "/posts?page=9&per_page=2",  # past the end: the total is counted apart
        f"/posts?author_id={blog['ann']}&per_page=2",
        "/posts?tag=Python%20&per_page=2&page=2",
        f"/posts?tag=python&author_id={blog['bob']}",  # counted by a statement of its own
        "/posts?tag=nothing",
        "/posts?per_page=100&unknown=1&unknown=2",
    ]
    lane = app.state.list_lane
    for url in urls:
        _fresh(app)
        status, headers, body = raw_get(app, url)
        assert laned[-1:] == [url.partition("?")[2]], f"{url} did not take the lane"
        app.state.list_lane = None
        try:
            _fresh(app)
            route_status, route_headers, route_body = raw_get(app, url)
        finally:
            app.state.list_lane = lane
        assert (status, body) == (route_status, route_body) and status == 200, url
        assert steady(headers) == steady(route_headers), url
    assert len(laned) == len(urls)
    totals = client.get(f"/posts?tag=python&author_id={blog['bob']}").json()
    assert totals["total"] == 2 and {p["title"] for p in totals["data"]} == {"Bob 1", "Bob 2"}


def test_its_page_is_kept_under_the_route_and_its_304_is_the_routes(
    app: FastAPI, client: TestClient, blog: dict[str, int], laned: list[str]
) -> None:
    url = "/posts?per_page=3"
    _fresh(app)
    status, headers, _ = raw_get(app, url)
    assert status == 200 and len(laned) == 1
    kept = page_cache.pages_of(app).pages
    assert [page.route for page in kept.values()] == [app.state.list_lane.route]
    etag = dict(headers)[b"etag"]
    _fresh(app)
    status, lane_304, body = raw_get(app, url, (b"if-none-match", etag))
    assert (status, body) == (304, b"") and len(laned) == 2
    app.state.list_lane = None
    _fresh(app)
    status, route_304, _ = raw_get(app, url, (b"if-none-match", etag))
    assert status == 304 and steady(lane_304) == steady(route_304)


@pytest.mark.parametrize("query", ["page=0", "per_page=101", "author_id=0", "tag="])
def test_bad_parameters_get_the_routes_422(
    client: TestClient, blog: dict[str, int], laned: list[str], query: str
) -> None:
    answer = client.get(f"/posts?{query}")
    assert answer.status_code == 422 and answer.json()["code"] == "VALIDATION_FAILED"
    assert laned == []


def test_a_search_credentials_or_a_body_go_to_the_route(
    app: FastAPI, client: TestClient, blog: dict[str, int], laned: list[str]
) -> None:
    assert client.get("/posts?q=Ann%201").json()["total"] == 1
    assert client.get("/posts?page=01").json()["page"] == 1  # the route reads it, not the lane
    _, headers, _ = raw_get(app, "/posts", (b"authorization", b"Bearer nonsense"))
    assert dict(headers)[b"cache-control"] == b"private, no-cache"
    raw_get(app, "/posts", (b"content-length", b"5"))
    assert laned == []
    _fresh(app)  # the route kept its page of /posts
    raw_get(app, "/posts", (b"content-length", b"0"))
    assert laned == [""]


def test_a_database_error_is_the_apps_503(
    client: TestClient, blog: dict[str, int], laned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_args: Any, **_kwargs: Any) -> bytes:
        raise OperationalError("SELECT", {}, Exception("gone"))

    monkeypatch.setattr(public, "list_published", down)
    answer = client.get("/posts?per_page=4")
    assert answer.status_code == 503 and answer.json()["code"] == "DATABASE_UNAVAILABLE"
    assert laned == ["per_page=4"]

    def broken(*_args: Any, **_kwargs: Any) -> bytes:
        raise RuntimeError("a bug")

    monkeypatch.setattr(public, "list_published", broken)
    answer = client.get("/posts?per_page=5")
    assert answer.status_code == 500 and answer.json()["code"] == "INTERNAL_ERROR"


def test_the_lane_is_the_get_posts_route_of_the_router() -> None:
    from app.api.routes.posts import list_posts, router

    assert ListLane.of(router).route.endpoint is list_posts
    assert list_lane.PATH == "/posts"
