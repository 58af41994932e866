"""posts.content: MEDIUMTEXT on MySQL/MariaDB

TEXT stops at 65,535 bytes there; the contract's 100,000 characters take up to 400,000 bytes in
utf8mb4. PostgreSQL's and SQLite's TEXT have no such limit: nothing to do on them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    if _is_mysql():
        op.alter_column(
            "posts",
            "content",
            type_=mysql.MEDIUMTEXT(),
            existing_type=sa.Text(),
            existing_nullable=False,
        )


def downgrade() -> None:
    # Content over 65,535 bytes would not fit back: MySQL refuses (strict mode) rather than cut it.
    if _is_mysql():
        op.alter_column(
            "posts",
            "content",
            type_=sa.Text(),
            existing_type=mysql.MEDIUMTEXT(),
            existing_nullable=False,
        )
