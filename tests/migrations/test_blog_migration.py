"""Migration 0010 on a database with posts: each gets a unique slug (numbered on equal titles), its
HTML, excerpt and reading time, and `published_at` = `created_at` when published (null for a
draft); downgrading drops the blog's columns and tables and keeps the posts."""

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Engine, inspect, text

from app.cli import alembic_config
from app.core.config import Settings

NOW = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
USER = (
    "INSERT INTO users (id, email, hashed_password, name, is_admin, email_verified, created_at, "
    "updated_at, token_version, uid) VALUES (:id, 'blog-migration@example.com', 'x', 'M', :false, "
    ":false, :now, :now, 0, :uid)"
)
POST = (
    "INSERT INTO posts (id, title, content, published, author_id, created_at, updated_at) "
    "VALUES (:id, :title, :content, :published, :author, :created, :created)"
)
USER_ID = 910_001
POSTS = [
    # id, title, content, published
    (910_001, "Same Title", "# Hello\n\n*One* <script>alert(1)</script>", True),
    (910_002, "Same Title", " ".join(["word"] * 700), False),
    (910_003, "Ünïcode Straße", "[x](javascript:alert(1))", True),
]


def _naive(engine: Engine, moment: datetime) -> datetime:
    return moment if engine.dialect.name == "postgresql" else moment.replace(tzinfo=None)


def _aware(moment: datetime | str | None) -> datetime | None:
    if isinstance(moment, str):  # SQLite hands back text
        moment = datetime.fromisoformat(moment)
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def test_upgrade_from_0009_backfills_posts_and_downgrade_keeps_them(
    engine: Engine, settings: Settings
) -> None:
    config = alembic_config(settings)
    command.downgrade(config, "0009")
    try:
        with engine.begin() as conn:
            now = _naive(engine, NOW)
            conn.execute(text(USER), {"id": USER_ID, "false": False, "now": now, "uid": "b" * 32})
            for n, (post_id, title, content, published) in enumerate(POSTS):
                created = _naive(engine, NOW + timedelta(minutes=n))
                conn.execute(
                    text(POST),
                    {
                        "id": post_id,
                        "title": title,
                        "content": content,
                        "published": published,
                        "author": USER_ID,
                        "created": created,
                    },
                )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, slug, content_html, excerpt, reading_time_minutes, published_at, "
                    "created_at, tags, comment_count FROM posts WHERE author_id = :a ORDER BY id"
                ),
                {"a": USER_ID},
            ).all()
        by_id = {row.id: row for row in rows}
        slugs = [by_id[p[0]].slug for p in POSTS]
        assert slugs == ["same-title", "same-title-2", "unicode-strasse"]
        first, second, third = (by_id[p[0]] for p in POSTS)
        assert "<h1>Hello</h1>" in first.content_html and "<script" not in first.content_html
        assert "href" not in third.content_html  # the link stays text, not a link
        assert first.excerpt.startswith("Hello One") and second.reading_time_minutes == 3
        assert _aware(first.published_at) == _aware(first.created_at) == NOW
        assert _aware(third.published_at) == NOW + timedelta(minutes=2)
        assert second.published_at is None  # a draft
        assert all(row.comment_count == 0 for row in rows)
        assert all(row.tags in ([], "[]") for row in rows)

        command.downgrade(config, "0009")
        columns = {c["name"] for c in inspect(engine).get_columns("posts")}
        assert not columns & {"slug", "content_html", "excerpt", "published_at", "tags"}
        assert not {"post_tags", "comments"} & set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            kept = "SELECT COUNT(*) FROM posts WHERE author_id = :a"
            assert conn.execute(text(kept), {"a": USER_ID}).scalar() == len(POSTS)
    finally:
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM posts WHERE author_id = :a"), {"a": USER_ID})
            conn.execute(text("DELETE FROM users WHERE id = :a"), {"a": USER_ID})
