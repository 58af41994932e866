"""GET /posts?q= through the search indexes (app/posts/search.py) finds exactly what the plain
LIKE scan finds, on random text full of LIKE's metacharacters, mixed case and accents."""

import random

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.core.pagination import PageParams
from app.posts.models import Post
from app.posts.public import list_published
from tests.utils.posts import post_row

ALPHABET = "aAbBcé É%_/\\ßx"


def _text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(size)).strip() or "a"


def _scanned(db: Session, q: str) -> set[int]:
    needle = q.lower()
    stmt = select(Post.id).where(
        Post.published.is_(True),
        or_(
            func.lower(Post.title).contains(needle, autoescape=True),
            func.lower(Post.content).contains(needle, autoescape=True),
        ),
    )
    return set(db.scalars(stmt))


def test_indexed_search_finds_what_the_scan_finds(db: Session, make_user) -> None:
    rng = random.Random(7)
    author = make_user("searcher@example.com")
    rows = [post_row(author.id, _text(rng, 12), _text(rng, 40), published=True) for _ in range(80)]
    db.add_all(rows)
    db.commit()
    needles = ["%", "_", "/", "a%", "%_/", "ÉÉ", "zzz"]
    for _ in range(40):
        source = rng.choice(rows)
        text = rng.choice((source.title, source.content))
        start = rng.randrange(len(text))
        needles.append(text[start : start + rng.randint(1, 6)].swapcase())
    for q in needles:
        if not q.strip():
            continue
        page = list_published(db, params=PageParams(1, 100), q=q)
        found = {post.id for post in page.data}
        assert found == _scanned(db, q), q
        assert page.total == len(found), q
