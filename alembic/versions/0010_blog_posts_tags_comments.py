"""a blog: slugs, rendered Markdown, scheduling, tags and comments

Existing posts get a slug from their title, their HTML, excerpt and reading time, and, when
published, `published_at` = their creation time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from app.posts.markdown import render
from app.posts.slugs import numbered, slug_base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_ID_REUSE = {"sqlite_autoincrement": True}
LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
TAG_NAME = sa.String(40).with_variant(
    mysql.VARCHAR(40, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
# UTCDateTime as 0003 declares it: microseconds on MySQL, zone-aware on PostgreSQL.
WHEN = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _backfill() -> None:
    posts = sa.table(
        "posts",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("content", sa.Text),
        sa.column("published", sa.Boolean),
        sa.column("created_at", WHEN),
        sa.column("slug", sa.String),
        sa.column("content_html", sa.Text),
        sa.column("excerpt", sa.String),
        sa.column("reading_time_minutes", sa.Integer),
        sa.column("tags", sa.JSON),
        sa.column("published_at", WHEN),
    )
    bind = op.get_bind()
    taken: set[str] = set()
    rows = bind.execute(
        sa.select(
            posts.c.id, posts.c.title, posts.c.content, posts.c.published, posts.c.created_at
        ).order_by(posts.c.id)
    ).all()
    for row in rows:
        slug = base = slug_base(row.title)
        n = 2
        while slug in taken:
            slug, n = numbered(base, n), n + 1
        taken.add(slug)
        rendered = render(row.content)
        bind.execute(
            posts.update()
            .where(posts.c.id == row.id)
            .values(
                slug=slug,
                content_html=rendered.html,
                excerpt=rendered.excerpt,
                reading_time_minutes=rendered.reading_time_minutes,
                tags=[],
                published_at=row.created_at if row.published else None,
            )
        )


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("slug", sa.String(100), nullable=True))
        batch.add_column(sa.Column("content_html", LONG_TEXT, nullable=True))
        batch.add_column(sa.Column("excerpt", sa.String(300), nullable=True))
        batch.add_column(sa.Column("reading_time_minutes", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("published_at", WHEN, nullable=True))
        batch.add_column(
            sa.Column("comment_count", sa.Integer(), nullable=False, server_default="0")
        )
    _backfill()
    # SQLite rebuilds the table here: it must keep AUTOINCREMENT (0006), or ids could be reused.
    with op.batch_alter_table("posts", table_kwargs=NO_ID_REUSE) as batch:
        batch.alter_column("slug", existing_type=sa.String(100), nullable=False)
        batch.alter_column("content_html", existing_type=LONG_TEXT, nullable=False)
        batch.alter_column("excerpt", existing_type=sa.String(300), nullable=False)
        batch.alter_column("reading_time_minutes", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("tags", existing_type=sa.JSON(), nullable=False)
        batch.create_unique_constraint(op.f("uq_posts_slug"), ["slug"])
        batch.drop_index("ix_posts_published_created_at")
        batch.create_index("ix_posts_published_published_at", ["published", "published_at"])

    op.create_table(
        "post_tags",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("name", TAG_NAME, nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_tags_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "name", name=op.f("pk_post_tags")),
    )
    op.create_index("ix_post_tags_name_post_id", "post_tags", ["name", "post_id"])

    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_comments_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_comments_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_comments_post_id_created_at", "comments", ["post_id", "created_at"])
    op.create_index("ix_comments_author_id", "comments", ["author_id"])


def downgrade() -> None:
    op.drop_table("comments")
    op.drop_table("post_tags")
    with op.batch_alter_table("posts", table_kwargs=NO_ID_REUSE) as batch:
        batch.drop_index("ix_posts_published_published_at")
        batch.create_index("ix_posts_published_created_at", ["published", "created_at"])
        batch.drop_constraint(op.f("uq_posts_slug"), type_="unique")
        for column in (
            "comment_count",
            "published_at",
            "tags",
            "excerpt",
            "reading_time_minutes",
            "content_html",
            "slug",
        ):
            batch.drop_column(column)
