"""the public list at scale: post counters, list indexes, substring-search indexes

- post_counts / post_schedule: the lists' totals kept by the writes (app/posts/counts.py),
  filled from the existing posts;
- indexes the list pages through: (published, published_at, id) for all posts,
  (author_id, published, published_at, id) for one author's, and post_tags gains the post's
  `published_at` (null unless published) with (name, published_at, post_id) for one tag's;
- substring search (app/posts/search.py): an FTS5 trigram table on SQLite, pg_trgm GIN indexes
  on PostgreSQL; MariaDB has no trigram index and keeps scanning.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from app.posts import counts, search

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_ID_REUSE = {"sqlite_autoincrement": True}
TAG_NAME = sa.String(40).with_variant(
    mysql.VARCHAR(40, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
WHEN = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "post_counts",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("key", TAG_NAME, nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False, autoincrement=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "shard", name=op.f("pk_post_counts")),
    )
    op.create_table(
        "post_schedule",
        sa.Column("post_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("published_at", WHEN, nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_schedule_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_schedule")),
    )
    op.create_index("ix_post_schedule_published_at", "post_schedule", ["published_at", "author_id"])
    with op.batch_alter_table("posts", table_kwargs=NO_ID_REUSE) as batch:
        batch.drop_index("ix_posts_published_published_at")
        batch.create_index(
            "ix_posts_published_published_at_id", ["published", "published_at", "id"]
        )
        batch.create_index(
            "ix_posts_author_id_published_published_at",
            ["author_id", "published", "published_at", "id"],
        )
    with op.batch_alter_table("post_tags") as batch:
        batch.add_column(sa.Column("published_at", WHEN, nullable=True))
    posts = sa.table(
        "posts",
        sa.column("id", sa.Integer),
        sa.column("published", sa.Boolean),
        sa.column("published_at", WHEN),
    )
    tags = sa.table("post_tags", sa.column("post_id", sa.Integer), sa.column("published_at", WHEN))
    op.execute(
        tags.update().values(
            published_at=sa.select(posts.c.published_at)
            .where(posts.c.id == tags.c.post_id, posts.c.published.is_(True))
            .scalar_subquery()
        )
    )
    op.create_index(
        "ix_post_tags_name_published_at_post_id", "post_tags", ["name", "published_at", "post_id"]
    )
    counts.rebuild(op.get_bind())
    search.create(op.get_bind())


def downgrade() -> None:
    search.drop(op.get_bind())
    op.drop_index("ix_post_tags_name_published_at_post_id", table_name="post_tags")
    with op.batch_alter_table("post_tags") as batch:
        batch.drop_column("published_at")
    with op.batch_alter_table("posts", table_kwargs=NO_ID_REUSE) as batch:
        batch.drop_index("ix_posts_author_id_published_published_at")
        batch.drop_index("ix_posts_published_published_at_id")
        batch.create_index("ix_posts_published_published_at", ["published", "published_at"])
    op.drop_table("post_schedule")
    op.drop_table("post_counts")
