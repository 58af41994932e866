"""account uid, login sessions, and no id reuse on SQLite

Every token names the account's never-reused `uid`; access tokens name their login session, so
ending it ends them at once. On SQLite, the tables whose ids leave the server get AUTOINCREMENT:
without it, the newest row's id is handed out again after a delete.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

NO_ID_REUSE_TABLES = ("users", "posts", "uploads", "api_keys")
FAMILY_FK = "fk_refresh_tokens_family_id_sessions"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _sqlite_connection() -> sqlite3.Connection:
    raw = op.get_bind().connection.driver_connection
    if not isinstance(raw, sqlite3.Connection):
        raise TypeError("expected a sqlite3 connection")
    return raw


def _set_sqlite_foreign_keys(on: bool) -> None:
    """PRAGMA foreign_keys is ignored inside a transaction, so end the migration's transaction,
    set it, and open the next one (SQLAlchemy's commit at the end then commits that one)."""
    raw = _sqlite_connection()
    if raw.in_transaction:
        raw.execute("COMMIT")
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    raw.execute("BEGIN")


@contextmanager
def _sqlite_foreign_keys_off() -> Iterator[None]:
    """Recreating `users` drops it: with foreign keys on, that cascades to every post, key and
    upload. Off while the tables are copied, checked before they are turned back on."""
    if not _sqlite():
        yield
        return
    _set_sqlite_foreign_keys(False)
    try:
        yield
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
    except BaseException:
        raw = _sqlite_connection()
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("BEGIN")
        raise
    _set_sqlite_foreign_keys(True)


def upgrade() -> None:
    bind = op.get_bind()
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table("users") as batch:
            batch.add_column(sa.Column("uid", sa.String(length=32), nullable=True))
        users = sa.table("users", sa.column("id", sa.Integer), sa.column("uid", sa.String))
        for (user_id,) in bind.execute(sa.select(users.c.id)).all():
            bind.execute(users.update().where(users.c.id == user_id).values(uid=uuid.uuid4().hex))
        with op.batch_alter_table("users") as batch:
            batch.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
            batch.create_unique_constraint(op.f("uq_users_uid"), ["uid"])

        op.create_table(
            "sessions",
            sa.Column("id", sa.String(length=32), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("created_at", UTC_DATETIME, nullable=False),
            sa.Column("revoked_at", UTC_DATETIME, nullable=True),
            sa.ForeignKeyConstraint(
                ["user_id"],
                ["users.id"],
                name=op.f("fk_sessions_user_id_users"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        )
        op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"])
        # Each existing refresh-token family becomes a session, open while any token of it is.
        op.execute(
            "INSERT INTO sessions (id, user_id, created_at, revoked_at) "
            "SELECT family_id, MIN(user_id), MIN(created_at), "
            "CASE WHEN COUNT(revoked_at) = COUNT(*) THEN MAX(revoked_at) END "
            "FROM refresh_tokens GROUP BY family_id"
        )
        with op.batch_alter_table("refresh_tokens") as batch:
            batch.create_foreign_key(
                op.f(FAMILY_FK), "sessions", ["family_id"], ["id"], ondelete="CASCADE"
            )

        if _sqlite():
            for table in NO_ID_REUSE_TABLES:
                with op.batch_alter_table(
                    table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
                ):
                    pass


def downgrade() -> None:
    # AUTOINCREMENT is not taken back on SQLite (`users` loses it when copied to drop `uid`):
    # older revisions work either way.
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table("refresh_tokens") as batch:
            batch.drop_constraint(op.f(FAMILY_FK), type_="foreignkey")
        op.drop_table("sessions")
        with op.batch_alter_table("users") as batch:
            batch.drop_constraint(op.f("uq_users_uid"), type_="unique")
            batch.drop_column("uid")
