"""PostgreSQL's substring search gains a GIN index over each published post's six-character
substrings (`ix_posts_grams`, on `quill_post_grams(title, content)`): a needle of six
characters or more is narrowed to little more than its matches, where pg_trgm's word trigrams
leave every post holding its words anywhere (app/posts/search.py). SQLite and MariaDB are
unchanged. Building it reads every published post once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

from app.posts import search

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        search.create(bind)  # what exists already is left as it is


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_posts_grams")
        op.execute("DROP FUNCTION IF EXISTS quill_post_grams(text, text)")
        op.execute("DROP FUNCTION IF EXISTS quill_grams(text)")
