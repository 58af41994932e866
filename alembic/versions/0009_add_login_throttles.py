"""login lockout counted atomically: a row per email to lock, and attempts in progress

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# The same byte-for-byte address comparison as users.email (0007).
BINARY_EMAIL = sa.String(254).with_variant(
    mysql.VARCHAR(254, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("email", BINARY_EMAIL, nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_login_throttles")),
    )
    # NULL: the password check is still running (it holds a lockout slot meanwhile).
    with op.batch_alter_table("login_attempts") as batch:
        batch.alter_column("succeeded", existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    # A check that never settled counts as a failure, which is what the old schema can say.
    op.execute(sa.text("UPDATE login_attempts SET succeeded = false WHERE succeeded IS NULL"))
    with op.batch_alter_table("login_attempts") as batch:
        batch.alter_column("succeeded", existing_type=sa.Boolean(), nullable=False)
    op.drop_table("login_throttles")
