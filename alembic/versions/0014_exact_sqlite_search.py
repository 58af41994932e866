"""SQLite's substring search answers from its index alone: the FTS5 trigram table `posts_fts`
(case-folding, every post, each match read again by a LIKE) becomes `posts_search`
(contentless, published posts' lower(title) and lower(content), case-sensitive); see
app/posts/search.py. PostgreSQL and MariaDB are unchanged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

from app.posts import search

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Revision 0011's table and triggers, as they were.
LEGACY = (
    "CREATE VIRTUAL TABLE posts_fts USING fts5(title, content, content='posts', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN "
    "INSERT INTO posts_fts(rowid, title, content) VALUES (new.id, new.title, new.content); END",
    "CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN "
    "INSERT INTO posts_fts(posts_fts, rowid, title, content) "
    "VALUES ('delete', old.id, old.title, old.content); END",
    "CREATE TRIGGER posts_fts_update AFTER UPDATE OF title, content ON posts BEGIN "
    "INSERT INTO posts_fts(posts_fts, rowid, title, content) "
    "VALUES ('delete', old.id, old.title, old.content); "
    "INSERT INTO posts_fts(rowid, title, content) VALUES (new.id, new.title, new.content); END",
    "INSERT INTO posts_fts(posts_fts) VALUES ('rebuild')",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        search.drop(bind)  # the legacy table and triggers too
        search.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        search.drop(bind)
        for statement in LEGACY:
            op.execute(statement)
