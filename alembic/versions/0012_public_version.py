"""public_version: the change counter of the public reads (app/posts/changes.py)

Every write that can alter a public read adds one to one of its shards in its own transaction;
a public read compares the sum (and the count of due scheduled posts) with its ETag.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 8  # app.core.counters.SHARDS (then app.posts.changes.SHARDS) when this was written; missing shards are created on use


def upgrade() -> None:
    table = op.create_table(
        "public_version",
        sa.Column("shard", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_public_version")),
    )
    op.bulk_insert(table, [{"shard": shard, "n": 0} for shard in range(SHARDS)])


def downgrade() -> None:
    op.drop_table("public_version")
