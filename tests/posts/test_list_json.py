"""GET /posts renders its JSON from rows (app/posts/public.py), without models or FastAPI's
response_model: its bytes must be those FastAPI made of PostWithAuthor models, on every backend,
whatever the posts hold (unicode and JSON escapes, tags, files, times with and without
microseconds, in other zones, scheduled posts and drafts left out)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, joinedload

from app.api.routes.posts import list_posts, router
from app.core.models import utcnow
from app.core.pagination import PageParams, page_of
from app.posts import service as posts
from app.posts.models import Post, PostTag
from app.posts.public import list_published
from app.posts.schemas import PostCreate, PostWithAuthor
from app.users.models import User

ODD = 'Ünïcödé "quoted" \\back\\slash\u2028 — 日本語 🎉 <b>&amp;</b>'


def _write(db: Session, author: User, title: str, **fields: Any) -> Post:
    return posts.create_post(db, author=author, data=PostCreate(title=title, **fields))


@pytest.fixture
def varied(db: Session, make_user) -> tuple[User, User]:
    odd = make_user(name="Ådä ✓")
    odd.bio, odd.avatar_name = "Bïo\n" + ODD, "A" * 32 + ".png"
    plain = make_user(name="Plain")  # no bio, no avatar
    db.commit()
    past = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)  # no microseconds: a shorter JSON time
    _write(db, odd, ODD, content=ODD + "\n\n*md*", tags=["Café", "naïve", "日本語"], published=True)
    covered = _write(db, odd, "Covered", content="x", published=True, published_at=past)
    covered.cover_name = "C" * 32 + ".jpg"
    zoned = datetime(2025, 3, 4, 5, 6, 7, 890, tzinfo=UTC).astimezone()  # any zone but UTC
    _write(db, plain, "Zoned", content="y", tags=["café"], published=True, published_at=zoned)
    _write(db, plain, "Plain", content="z", tags=["python"], published=True)
    _write(db, odd, "Later", content="s", published=True, published_at=utcnow() + timedelta(1))
    _write(db, plain, "Draft", content="d", tags=["café"])
    db.commit()
    if db.get_bind().dialect.name == "sqlite":
        # A time written without its fraction (by hand, or by an older writer) reads back too.
        db.execute(
            text("UPDATE posts SET created_at = '2024-02-03 04:05:06' WHERE id = :id"),
            {"id": covered.id},
        )
        db.commit()
        db.expire_all()
    return odd, plain


def _as_models(db: Session, params: PageParams, **filters: Any) -> bytes:
    """The page as GET /posts rendered it before: PostWithAuthor models (from the ORM objects,
    as GET /posts/{id} builds them), then the route's response field: validated, serialised."""
    where = [Post.published.is_(True), Post.published_at <= utcnow()]
    if filters.get("author_id") is not None:
        where.append(Post.author_id == filters["author_id"])
    if filters.get("tag") is not None:
        tagged = select(PostTag.post_id).where(PostTag.name == filters["tag"])
        where.append(Post.id.in_(tagged))
    found = (
        select(Post)
        .options(joinedload(Post.author))
        .where(*where)
        .order_by(Post.published_at.desc(), Post.id.desc())
    )
    rows = db.scalars(found.limit(params.per_page).offset(params.offset)).unique().all()
    total = db.scalar(select(func.count()).select_from(Post).where(*where)) or 0
    items = [PostWithAuthor.model_validate(post) for post in rows]
    route = next(r for r in router.routes if getattr(r, "endpoint", None) is list_posts)
    assert isinstance(route, APIRoute)
    field = route.response_field
    assert field is not None
    value, errors = field.validate(page_of(items, total, params), {}, loc=("response",))
    assert not errors
    return field.serialize_json(value)


CASES: list[tuple[PageParams, dict[str, Any]]] = [
    (PageParams(1, 10), {}),
    (PageParams(1, 2), {}),
    (PageParams(2, 2), {}),
    (PageParams(9, 2), {}),
    (PageParams(1, 10), {"tag": "café"}),
    (PageParams(2, 1), {"tag": "café"}),
    (PageParams(1, 10), {"author_id": "odd"}),
    (PageParams(1, 10), {"author_id": "plain", "tag": "café"}),
    (PageParams(1, 10), {"tag": "nothing"}),
]


@pytest.mark.parametrize(("params", "filters"), CASES)
def test_the_rows_render_what_the_models_did(
    app: FastAPI,
    db: Session,
    varied: tuple[User, User],
    params: PageParams,
    filters: dict[str, Any],
) -> None:
    odd, plain = varied
    if "author_id" in filters:
        filters["author_id"] = {"odd": odd.id, "plain": plain.id}[filters["author_id"]]
    rendered = list_published(db, params=params, **filters)
    assert rendered == _as_models(db, params, **filters)


def test_the_route_sends_those_bytes(
    client: TestClient, db: Session, varied: tuple[User, User]
) -> None:
    answer = client.get("/posts?per_page=3")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == _as_models(db, PageParams(1, 3))
    assert "日本語".encode() in answer.content  # the odd post is on the page, unescaped
