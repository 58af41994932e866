"""GET /posts?q= through the search indexes (app/posts/search.py) finds exactly what the plain
LIKE scan finds, on random text full of LIKE's metacharacters, mixed case and accents, and the
characters whose case Unicode folds into ASCII (the Kelvin sign, the long s, the dotted capital
I) where SQLite's lower() folds nothing: on SQLite the index answers alone, with no LIKE after
it, so any difference in folding would show here."""

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.orm import Session

from app.core.models import utcnow
from app.core.pagination import PageParams
from app.posts.models import Post
from app.posts.public import list_published, page_query
from tests.utils.posts import post_row

ALPHABET = 'aAbBcé É%_/\\ßxkKsS\u212a\u017f\u0130iI"'


def _text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(size)).strip() or "a"


def _scanned(db: Session, q: str) -> set[int]:
    needle = q.lower()
    stmt = select(Post.id).where(
        Post.published.is_(True),
        Post.published_at <= utcnow(),
        or_(
            func.lower(Post.title).contains(needle, autoescape=True),
            func.lower(Post.content).contains(needle, autoescape=True),
        ),
    )
    return set(db.scalars(stmt))


def _needles(rng: random.Random, rows: list[Post]) -> list[str]:
    needles = ["%", "_", "/", "a%", "%_/", "ÉÉ", "zzz", "kkk", "\u212a\u212a\u212a", "sss", "iii"]
    needles += ["%%%%%%", "a_b_c_", "\u212a\u212a\u212a\u212a\u212a\u212a", "ssssss", "éééééé"]
    for _ in range(60):
        source = rng.choice(rows)
        text = rng.choice((source.title, source.content))
        start = rng.randrange(len(text))
        needle = text[start : start + rng.randint(1, 12)]
        needles.append(rng.choice((needle, needle.swapcase(), needle.upper())))
    return [q for q in needles if q.strip()]


def _assert_same(db: Session, needles: list[str], author_id: int | None = None) -> None:
    for q in needles:
        page = json.loads(list_published(db, params=PageParams(1, 100), q=q, author_id=author_id))
        found = {post["id"] for post in page["data"]}
        expected = _scanned(db, q)
        if author_id is not None:
            expected = {p for p in expected if db.get(Post, p).author_id == author_id}  # type: ignore[union-attr]
        assert found == expected, q
        assert page["total"] == len(found), q


def test_indexed_search_finds_what_the_scan_finds(db: Session, make_user) -> None:
    rng = random.Random(7)
    author = make_user("searcher@example.com")
    other = make_user("other-searcher@example.com")
    rows = [
        post_row(
            rng.choice((author.id, other.id)),
            _text(rng, 12),
            _text(rng, 40),
            published=rng.random() < 0.8,
        )
        for _ in range(120)
    ]
    now = utcnow()
    for row in rows[::9]:  # some scheduled for later: matching, but not public yet
        if row.published:
            row.published_at = now + timedelta(days=1)
    db.add_all(rows)
    db.commit()
    needles = _needles(rng, rows)
    _assert_same(db, needles)
    _assert_same(db, needles[:20], author_id=author.id)


def test_the_index_follows_edits_and_deletions(db: Session, make_user) -> None:
    rng = random.Random(11)
    author = make_user("editor@example.com")
    rows = [post_row(author.id, _text(rng, 12), _text(rng, 40), published=True) for _ in range(40)]
    drafts = [post_row(author.id, _text(rng, 12), _text(rng, 40)) for _ in range(10)]
    rows += drafts
    db.add_all(rows)
    db.commit()
    before = _needles(rng, rows)
    for row in rows[:15]:
        row.title, row.content = _text(rng, 12), _text(rng, 40)
    for row in rows[15:20]:
        row.published = False  # out of the index, then some back in
    for row in rows[20:30]:
        db.delete(row)
    db.commit()
    for row in rows[18:20] + drafts[:5]:
        row.published, row.published_at = True, utcnow()
    for row in drafts[5:]:
        db.delete(row)
    db.commit()
    _assert_same(db, before + _needles(rng, rows[:20] + drafts[:5]))


def test_a_page_carries_the_total_of_every_page(db: Session, make_user) -> None:
    author = make_user("pager@example.com")
    db.add_all(
        [post_row(author.id, f"Garden Light {n}", "x", published=True) for n in range(25)]
        + [post_row(author.id, "garden", "light", published=True)]
    )
    db.commit()
    for page, per_page, size in ((1, 10, 10), (3, 10, 5), (2, 20, 5)):
        answer = json.loads(list_published(db, params=PageParams(page, per_page), q="GARDEN light"))
        assert (answer["total"], len(answer["data"])) == (25, size)
    beyond = json.loads(list_published(db, params=PageParams(9, 10), q="garden light"))
    assert (beyond["total"], beyond["data"]) == (25, [])


def _plan(db: Session, statement: Select[Any], parameters: dict[str, Any]) -> str:
    compiled = statement.compile(dialect=db.get_bind().dialect)
    bound = {**compiled.params, **{k: v for k, v in parameters.items() if k in compiled.params}}
    rows = db.connection().exec_driver_sql("EXPLAIN " + compiled.string, bound)
    return "\n".join(row[0] for row in rows)


def test_postgresql_narrows_a_long_needle_by_its_substrings(db: Session, make_user) -> None:
    """The list's own statement must name the gram index's expression exactly, or PostgreSQL
    would not use it (nothing else would tell: the answers would only be slower)."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's six-character substring index")
    author = make_user("grams@example.com")
    rng = random.Random(5)
    words = ("garden", "light", "river", "stone", "quill", "ink", "paper", "verse")
    db.add_all(
        post_row(author.id, f"post {n}", " ".join(rng.choices(words, k=20)), published=True)
        for n in range(1500)
    )
    db.flush()
    db.execute(text("ANALYZE posts"))  # as a table that has grown would have
    long = page_query("postgresql", PageParams(1, 10), q="Quill Ink")
    assert "ix_posts_grams" in _plan(db, long.total, long.parameters)
    short = page_query("postgresql", PageParams(1, 10), q="Ink")
    assert "ix_posts_grams" not in _plan(db, short.total, short.parameters)
