"""emails compare byte for byte on MySQL/MariaDB; per-address mail slots

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
EMAIL_COLUMNS = (("users", "email"), ("login_attempts", "email"))
BINARY_EMAIL = mysql.VARCHAR(254, charset="utf8mb4", collation="utf8mb4_bin")


def _is_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    # Elsewhere text already compares byte for byte (SQLite BINARY, PostgreSQL's deterministic
    # collations), and addresses are stored NFC and lower-cased, so only MySQL needs a change.
    if _is_mysql():
        for table, column in EMAIL_COLUMNS:
            op.alter_column(
                table,
                column,
                existing_type=sa.String(254),
                type_=BINARY_EMAIL,
                existing_nullable=False,
            )
    op.create_table(
        "mail_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_digest", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_slots")),
        sa.UniqueConstraint("address_digest", "slot", name=op.f("uq_mail_slots_address_digest")),
    )


def downgrade() -> None:
    op.drop_table("mail_slots")
    if _is_mysql():
        # Back to the table's default collation; fails if two addresses now differ only by it.
        for table, column in EMAIL_COLUMNS:
            op.alter_column(
                table,
                column,
                existing_type=BINARY_EMAIL,
                type_=sa.String(254),
                existing_nullable=False,
            )
