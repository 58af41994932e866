"""add the indexes the post lists use

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # GET /posts: published posts, newest first.
    op.create_index("ix_posts_published_created_at", "posts", ["published", "created_at"])
    # GET /posts/my and ?author_id=: one author's posts, newest first (also serves the FK).
    op.create_index("ix_posts_author_id_created_at", "posts", ["author_id", "created_at"])


def downgrade() -> None:
    # MySQL needs an index on the FK column at all times: drop the FK around the index.
    with op.batch_alter_table("posts") as batch:
        batch.drop_constraint("fk_posts_author_id_users", type_="foreignkey")
        batch.drop_index("ix_posts_author_id_created_at")
        batch.drop_index("ix_posts_published_created_at")
        batch.create_foreign_key(
            "fk_posts_author_id_users", "users", ["author_id"], ["id"], ondelete="CASCADE"
        )
