"""A scratch database for the bench: created, migrated, seeded, and dropped afterwards.

With `DATABASE_URL` unset it is a SQLite file in the run's temporary folder. With a MariaDB/MySQL
or PostgreSQL URL, that server gets a fresh database of its own (`quill_bench_<pid>`), so the
bench never writes into the database the URL names.

Seeding a million posts must take minutes, not hours, so posts skip the ORM: rows are tuples
built from a few thousand pre-rendered texts (Markdown rendering per row would dominate), with
ids chosen here so their tags need no read-back, and each backend gets its fastest bulk path
(PostgreSQL COPY, multi-row INSERTs on MariaDB, one executemany transaction on SQLite).
"""

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import URL, Connection, make_url

from app.comments.models import Comment
from app.posts import changes, counts, search
from app.posts.markdown import render
from app.posts.models import Post
from app.users.models import User

ROOT = Path(__file__).resolve().parent.parent
USERS = 1_000
POSTS = 20_000
# Every seeded user's, so the bench can log in as any of them.
PASSWORD = "bench-password-1234"
# One in ten posts is a draft, about one in a hundred scheduled for later: the public list has
# something to filter out, and the counters have scheduled posts to fold in.
DRAFT_EVERY = 10
SCHEDULED_EVERY = 97
BATCH = 5_000
TEXTS = 2_000
# Comments on the newest published posts only, so seeding a million posts stays quick.
COMMENTED = 2_000
MAX_COMMENTS = 12
WORDS = (
    *("quill", "ink", "paper", "draft", "story", "chapter", "author", "reader", "blog", "page"),
    *("margin", "letter", "word", "line", "verse", "essay", "note", "idea", "light", "river"),
    *("stone", "window", "garden", "morning", "evening", "city", "road"),
)
TAGS = (
    *("python", "databases", "travel", "cooking", "music", "books", "design", "science"),
    *("history", "poetry", "photography", "gardening", "film", "sport", "news", "essays"),
)
POST_COLUMNS = (
    *("id", "slug", "title", "content", "content_html", "excerpt", "reading_time_minutes"),
    *("tags", "published", "published_at", "comment_count", "author_id", "created_at"),
    "updated_at",
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
    author_ids: list[int]
    posts: int


def email_of(n: int) -> str:
    return f"user{n}@bench.example.com"


@contextmanager
def scratch_database(base_url: str | None, workdir: Path, name: str | None = None) -> Iterator[URL]:
    """Yield the URL of an empty database (`name`, quill_bench_<pid> by default); drop it on the
    way out."""
    if not base_url:
        path = workdir / "bench.db"
        try:
            yield make_url(f"sqlite:///{path}")
        finally:
            for leftover in (path, path.with_name("bench.db-wal"), path.with_name("bench.db-shm")):
                leftover.unlink(missing_ok=True)
        return
    base = make_url(base_url)
    backend = base.get_backend_name()
    if backend == "sqlite":
        raise SystemExit("DATABASE_URL: leave it unset for SQLite; the bench makes its own file")
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise SystemExit(f"DATABASE_URL: unsupported backend {backend!r}")
    name = name or f"quill_bench_{os.getpid()}"
    # CREATE/DROP DATABASE cannot run inside a transaction.
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    create = f"CREATE DATABASE {name}"
    if backend != "postgresql":
        create += " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
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


def _texts(rng: random.Random) -> list[tuple[str, str, str, str, int]]:
    """(title, content, html, excerpt, reading time) to draw posts from, rendered once each."""
    texts = []
    for _ in range(TEXTS):
        content = " ".join(_sentence(rng, 12).capitalize() + "." for _ in range(2))
        rendered = render(content)
        title = _sentence(rng, 6).capitalize()
        texts.append(
            (title, content, rendered.html, rendered.excerpt, rendered.reading_time_minutes)
        )
    return texts


def post_rows(
    count: int, author_ids: list[int], now: datetime, rng: random.Random
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (post rows in POST_COLUMNS order, post_tags rows); ids 1..count, oldest first,
    the newest a few minutes before `now`, scheduled ones up to a month after it."""
    texts = _texts(rng)
    # At most 30 minutes apart, and never more than about three years back.
    step = min(timedelta(minutes=30), timedelta(days=3 * 365) / max(count, 1))
    first = now - step * count - timedelta(minutes=5)
    for offset in range(0, count, BATCH):
        posts: list[tuple[Any, ...]] = []
        tags: list[tuple[Any, ...]] = []
        for n in range(offset, min(offset + BATCH, count)):
            post_id = n + 1
            moment = first + step * n + timedelta(microseconds=rng.randrange(1_000_000))
            title, content, html, excerpt, minutes = texts[rng.randrange(TEXTS)]
            names = rng.sample(TAGS, rng.choice((0, 1, 1, 2, 3)))
            published = n % DRAFT_EVERY != 0
            published_at = None
            if published:
                published_at = moment
                if n % SCHEDULED_EVERY == 0:
                    published_at = now + timedelta(seconds=rng.randrange(60, 30 * 86_400))
            posts.append(
                (
                    post_id,
                    slug_of(post_id),
                    title,
                    content,
                    html,
                    excerpt,
                    minutes,
                    json.dumps(names),
                    published,
                    published_at,
                    0,
                    rng.choice(author_ids),
                    moment,
                    moment,
                )
            )
            tags += [(post_id, name, published_at) for name in names]
        yield posts, tags


def _insert_users(conn: Connection, password_hash: str, users: int, rng: random.Random) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
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


def _naive(value: Any) -> Any:
    # The DBAPI gets what SQLAlchemy's UTCDateTime would give it: naive UTC, except PostgreSQL.
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def _bulk_posts(conn: Connection, backend: str, batches: Iterator[Any]) -> None:
    raw: Any = conn.connection.driver_connection
    columns = ", ".join(POST_COLUMNS)
    if backend == "postgresql":
        with raw.cursor() as cur:
            for posts, tags in batches:
                with cur.copy(f"COPY posts ({columns}) FROM STDIN") as copy:
                    for row in posts:
                        copy.write_row(row)
                with cur.copy("COPY post_tags (post_id, name, published_at) FROM STDIN") as copy:
                    for row in tags:
                        copy.write_row(row)
            cur.execute("SELECT setval('posts_id_seq', (SELECT max(id) FROM posts))")
        return
    marks = ", ".join("?" if backend == "sqlite" else "%s" for _ in POST_COLUMNS)
    mark = "?" if backend == "sqlite" else "%s"
    cur = raw.cursor()
    if backend != "sqlite":
        # Seeding only: the rows are known to be consistent, so skip re-checking each one.
        cur.execute("SET SESSION unique_checks=0, foreign_key_checks=0")
    for posts, tags in batches:
        posts = [tuple(_naive(v) for v in row) for row in posts]
        cur.executemany(f"INSERT INTO posts ({columns}) VALUES ({marks})", posts)
        if tags:
            cur.executemany(
                "INSERT INTO post_tags (post_id, name, published_at) "
                f"VALUES ({mark}, {mark}, {mark})",
                [tuple(_naive(v) for v in row) for row in tags],
            )
    cur.close()


def seed(url: URL, password_hash: str, *, users: int = USERS, posts: int = POSTS) -> Seeded:
    """Migrate, then bulk-insert `users` users (all with PASSWORD) and `posts` posts."""
    migrate(url)
    rng = random.Random(1)
    backend = url.get_backend_name()
    engine = create_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if backend == "sqlite":
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
        _insert_users(conn, password_hash, users, rng)
        author_ids = list(conn.scalars(select(User.id).order_by(User.id)))
        # The search index is built once at the end, not a row at a time (triggers, GIN).
        search.drop(conn)
        _bulk_posts(conn, backend, post_rows(posts, author_ids, now, rng))
        search.create(conn)
        commented = _comments(conn, rng, author_ids, now)
        _after_seeding(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Fresh statistics, as a database that has been running a while would have.
        if backend in ("mysql", "mariadb"):
            conn.execute(text("ANALYZE TABLE users, posts, post_tags, comments"))
        elif backend == "postgresql":
            # VACUUM too: index-only scans need the visibility map a bulk load leaves empty.
            conn.execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
        published = list(
            conn.scalars(
                text(
                    "SELECT id FROM posts WHERE published = :yes AND published_at <= :now "
                    "ORDER BY id"
                ),
                {"yes": True, "now": _naive(now) if backend != "postgresql" else now},
            )
        )
    engine.dispose()
    return Seeded(
        url=url.render_as_string(hide_password=False),
        backend=backend,
        email=email_of(1),
        password=PASSWORD,
        published_ids=published,
        published_slugs=[slug_of(post_id) for post_id in published],
        commented_ids=commented,
        author_ids=author_ids,
        posts=posts,
    )


def slug_of(post_id: int) -> str:
    return f"post-{post_id}"


def _comments(
    conn: Connection, rng: random.Random, author_ids: list[int], now: datetime
) -> list[int]:
    """1 to MAX_COMMENTS comments on each of the COMMENTED newest published posts (ids ending in
    0, drafts and scheduled ones skipped), with comment_count to match; their ids."""
    candidates = conn.scalars(
        select(Post.id)
        .where(Post.published.is_(True), Post.published_at <= now, Post.id % 10 == 0)
        .order_by(Post.id.desc())
        .limit(COMMENTED)
    ).all()
    rows: list[dict[str, object]] = []
    for post_id in candidates:
        for k in range(rng.randint(1, MAX_COMMENTS)):
            when = now - timedelta(days=30) + timedelta(minutes=k)
            rows.append(
                {
                    "post_id": post_id,
                    "author_id": rng.choice(author_ids),
                    "body": _sentence(rng, 20),
                    "created_at": when,
                    "updated_at": when,
                }
            )
    for offset in range(0, len(rows), BATCH):
        conn.execute(insert(Comment), rows[offset : offset + BATCH])
    counted = (
        select(func.count())
        .select_from(Comment)
        .where(Comment.post_id == Post.id)
        .scalar_subquery()
    )
    conn.execute(update(Post).where(Post.id.in_(candidates)).values(comment_count=counted))
    return sorted(candidates)


def _after_seeding(conn: Connection) -> None:
    """The counters the writes keep (app/posts/counts.py), recounted: the rows went in by SQL."""
    counts.rebuild(conn)
    changes.bump(conn)  # and the public reads' version (app/posts/changes.py)
