"""A scratch database for the bench: created, migrated, seeded, and dropped afterwards.

With `DATABASE_URL` unset it is a SQLite file in the run's temporary folder. With a MariaDB/MySQL
or PostgreSQL URL, that server gets a fresh database of its own (`quill_bench_<pid>`), so the
bench never writes into the database the URL names.
"""

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, create_engine, insert, select, text, update
from sqlalchemy.engine import URL, make_url

from app.comments.models import Comment
from app.posts.markdown import render
from app.posts.models import Post, PostTag
from app.posts.slugs import numbered, slug_base
from app.users.models import User

ROOT = Path(__file__).resolve().parent.parent
USERS = 1_000
POSTS = 20_000
# Every seeded user's, so the bench can log in as any of them.
PASSWORD = "bench-password-1234"
# One in ten posts is a draft: the public list has something to filter out; one in a hundred
# is scheduled for next year, which the public reads filter out too.
DRAFT_EVERY = 10
SCHEDULED_EVERY = 100
# Most posts carry 1 to 3 tags from a small vocabulary; one in five carries none.
TAGS = ("python", "web", "databases", "writing", "travel", "music", "science", "design")
UNTAGGED_EVERY = 5
# One in ten published posts has comments (1 to 12 of them).
COMMENTED_EVERY = 10
MAX_COMMENTS = 12
BATCH = 2_000
WORDS = (
    *("quill", "ink", "paper", "draft", "story", "chapter", "author", "reader", "blog", "page"),
    *("margin", "letter", "word", "line", "verse", "essay", "note", "idea", "light", "river"),
    *("stone", "window", "garden", "morning", "evening", "city", "road"),
)


@dataclass(frozen=True)
class Seeded:
    url: str
    backend: str
    email: str
    password: str
    published_ids: list[int]
    published_slugs: list[str]
    commented_ids: list[int]


def email_of(n: int) -> str:
    return f"user{n}@bench.example.com"


@contextmanager
def scratch_database(base_url: str | None, workdir: Path) -> Iterator[URL]:
    """Yield the URL of an empty database; drop it on the way out."""
    if not base_url:
        path = workdir / "bench.db"
        yield make_url(f"sqlite:///{path}")
        return
    base = make_url(base_url)
    backend = base.get_backend_name()
    if backend == "sqlite":
        raise SystemExit("DATABASE_URL: leave it unset for SQLite; the bench makes its own file")
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise SystemExit(f"DATABASE_URL: unsupported backend {backend!r}")
    name = f"quill_bench_{os.getpid()}"
    # CREATE/DROP DATABASE cannot run inside a transaction.
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    create = f"CREATE DATABASE {name}"
    if backend != "postgresql":
        create += " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    with admin.connect() as conn:
        conn.execute(text(create))
    try:
        yield base.set(database=name)
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def migrate(url: URL) -> None:
    # A subprocess, so the app's settings and engine are built for this URL and not for ours.
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)}
    subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def seed(url: URL, password_hash: str, *, users: int = USERS, posts: int = POSTS) -> Seeded:
    """Migrate, then bulk-insert `users` users (all with PASSWORD) and `posts` posts."""
    migrate(url)
    rng = random.Random(1)
    engine = create_engine(url)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "email": email_of(n),
                    "hashed_password": password_hash,
                    "name": f"Writer {n}",
                    "bio": _sentence(rng, 12) if n % 2 else None,
                    "is_admin": False,
                    "email_verified": True,
                    "token_version": 0,
                    "created_at": start,
                    "updated_at": start,
                }
                for n in range(1, users + 1)
            ],
        )
        author_ids = list(conn.scalars(select(User.id)))
        taken: set[str] = set()
        for offset in range(0, posts, BATCH):
            rows = [
                _post_row(rng, n, start, author_ids, taken)
                for n in range(offset, min(offset + BATCH, posts))
            ]
            conn.execute(insert(Post), rows)
        _seed_tags_and_comments(conn, rng, author_ids, start)
    backend = url.get_backend_name()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Fresh statistics, as a database that has been running a while would have.
        analyze = "ANALYZE"
        if backend in ("mysql", "mariadb"):
            analyze = "ANALYZE TABLE users, posts, post_tags, comments"
        conn.execute(text(analyze))
        public = conn.execute(
            select(Post.id, Post.slug)
            .where(Post.published.is_(True), Post.published_at <= datetime.now(UTC))
            .order_by(Post.id)
        ).all()
        commented = list(
            conn.scalars(select(Post.id).where(Post.comment_count > 0).order_by(Post.id))
        )
    engine.dispose()
    return Seeded(
        url=url.render_as_string(hide_password=False),
        backend=backend,
        email=email_of(1),
        password=PASSWORD,
        published_ids=[row.id for row in public],
        published_slugs=[row.slug for row in public],
        commented_ids=commented,
    )


def _post_row(
    rng: random.Random, n: int, start: datetime, author_ids: list[int], taken: set[str]
) -> dict[str, object]:
    """Post number `n` with every column Quill writes: a unique slug made as Quill makes it, the
    rendered Markdown, tags, and publication (a draft, scheduled, or published when created)."""
    moment = start + timedelta(minutes=30 * n, microseconds=rng.randrange(1_000_000))
    title = _sentence(rng, 6).capitalize()
    content = " ".join(_sentence(rng, 15) + "." for _ in range(6))
    slug = base = slug_base(title)
    number = 2
    while slug in taken:
        slug, number = numbered(base, number), number + 1
    taken.add(slug)
    rendered = render(content)
    published = n % DRAFT_EVERY != 0
    published_at = moment if published else None
    if published and n % SCHEDULED_EVERY == 1:
        published_at = datetime.now(UTC) + timedelta(days=365)
    tags = [] if n % UNTAGGED_EVERY == 0 else rng.sample(TAGS, rng.randint(1, 3))
    return {
        "slug": slug,
        "title": title,
        "content": content,
        "content_html": rendered.html,
        "excerpt": rendered.excerpt,
        "reading_time_minutes": rendered.reading_time_minutes,
        "tags": tags,
        "published": published,
        "published_at": published_at,
        "author_id": rng.choice(author_ids),
        "created_at": moment,
        "updated_at": moment,
    }


def _seed_tags_and_comments(
    conn: Connection, rng: random.Random, author_ids: list[int], start: datetime
) -> None:
    """post_tags rows for every post's tags, and comments on some published posts, with each
    post's comment_count matching."""
    found = conn.execute(select(Post.id, Post.tags, Post.published)).all()
    tag_rows = [{"post_id": row.id, "name": name} for row in found for name in row.tags]
    for offset in range(0, len(tag_rows), BATCH):
        conn.execute(insert(PostTag), tag_rows[offset : offset + BATCH])
    comments: list[dict[str, object]] = []
    counts: dict[int, int] = {}
    for row in found:
        if not row.published or row.id % COMMENTED_EVERY:
            continue
        counts[row.id] = rng.randint(1, MAX_COMMENTS)
        for k in range(counts[row.id]):
            when = start + timedelta(days=k)
            comments.append(
                {
                    "post_id": row.id,
                    "author_id": rng.choice(author_ids),
                    "body": _sentence(rng, 20),
                    "created_at": when,
                    "updated_at": when,
                }
            )
    for offset in range(0, len(comments), BATCH):
        conn.execute(insert(Comment), comments[offset : offset + BATCH])
    for post_id, count in counts.items():
        conn.execute(update(Post).where(Post.id == post_id).values(comment_count=count))
