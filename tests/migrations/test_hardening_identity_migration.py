"""Migration 0006 keeps every row: recreating `users` on SQLite must not cascade to posts,
uploads and keys. Existing refresh-token families become sessions; every user gets a uid."""

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Engine, text

from app.cli import alembic_config
from app.core.config import Settings

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ROWS = {
    "users": (
        "INSERT INTO users (id, email, hashed_password, name, is_admin, email_verified, "
        "created_at, updated_at, token_version) "
        "VALUES (:id, :email, 'x', 'M', :false, :false, :now, :now, 0)"
    ),
    "posts": (
        "INSERT INTO posts (title, content, published, author_id, created_at, updated_at) "
        "VALUES ('T', 'c', :false, :id, :now, :now)"
    ),
    "uploads": (
        "INSERT INTO uploads (owner_id, kind, filename, original_name, content_type, size, "
        "sha256, created_at) VALUES (:id, 'upload', :filename, 'a.png', 'image/png', 1, "
        "'0', :now)"
    ),
    "api_keys": (
        "INSERT INTO api_keys (user_id, name, prefix, key_digest, created_at) "
        "VALUES (:id, 'k', 'qk_', :digest, :now)"
    ),
}
REFRESH = (
    "INSERT INTO refresh_tokens (user_id, family_id, token_digest, created_at, expires_at, "
    "revoked_at) VALUES (:id, :family, :digest, :now, :later, :revoked)"
)


def _naive(engine: Engine, moment: datetime) -> datetime:
    return moment if engine.dialect.name == "postgresql" else moment.replace(tzinfo=None)


def test_upgrade_to_0006_keeps_every_row(engine: Engine, settings: Settings) -> None:
    config = alembic_config(settings)
    command.downgrade(config, "0005")
    ids = (900_001, 900_002)
    try:
        values = {"false": False, "now": _naive(engine, NOW)}
        with engine.begin() as conn:
            for user_id in ids:
                row = {**values, "id": user_id, "email": f"m{user_id}@example.com"}
                row |= {"filename": f"{user_id}.png", "digest": f"{user_id:064d}"}
                for statement in ROWS.values():
                    conn.execute(text(statement), row)
            later = _naive(engine, NOW + timedelta(days=1))
            families = [("a" * 32, None), ("a" * 32, NOW), ("b" * 32, NOW)]
            for number, (family, revoked) in enumerate(families):
                conn.execute(
                    text(REFRESH),
                    {
                        "id": ids[0],
                        "family": family,
                        "digest": f"{number:064d}",
                        "now": values["now"],
                        "later": later,
                        "revoked": revoked and _naive(engine, revoked),
                    },
                )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            for counting in (
                "SELECT COUNT(*) FROM posts WHERE author_id >= 900001",
                "SELECT COUNT(*) FROM uploads WHERE owner_id >= 900001",
                "SELECT COUNT(*) FROM api_keys WHERE user_id >= 900001",
            ):
                assert conn.execute(text(counting)).scalar() == 2, counting
            uids = conn.execute(text("SELECT uid FROM users WHERE id >= 900001")).scalars().all()
            assert len(uids) == 2 and len(set(uids)) == 2 and all(len(u) == 32 for u in uids)
            sessions = dict(
                conn.execute(
                    text("SELECT id, revoked_at FROM sessions WHERE user_id = :id"), {"id": ids[0]}
                ).all()
            )
            # A family with a live token is an open session; a fully revoked one is ended.
            assert set(sessions) == {"a" * 32, "b" * 32}
            assert sessions["a" * 32] is None and sessions["b" * 32] is not None
            assert conn.execute(text("SELECT COUNT(*) FROM refresh_tokens")).scalar() >= 3
            if engine.dialect.name == "sqlite":
                for table in ROWS:
                    sql = conn.execute(
                        text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}
                    ).scalar()
                    assert "AUTOINCREMENT" in sql, table
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        command.upgrade(config, "head")
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM users WHERE id >= 900001"))
