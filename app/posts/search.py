"""GET /posts?q=: a case-insensitive literal substring of the title or the content, through an
index where the database has one.

`LIKE '%…%'` cannot use a B-tree, so every search read every post. Trigram indexes can answer
substring questions: SQLite's FTS5 `trigram` tokenizer (an external-content table over posts,
kept by triggers) and PostgreSQL's pg_trgm (GIN indexes on lower(title) and lower(content)).
MariaDB has no trigram index, and its FULLTEXT indexes match words, not substrings: it scans.

The meaning stays the naive one on every backend: the index only narrows the candidates, and
the LIKE condition (%, _ and the escape character literal) still decides. A needle shorter than
three characters has no trigram; it is matched by the scan alone. SQLAlchemy's metadata knows
none of these objects (alembic/env.py leaves them out of its comparison). On SQLite, a migration
that rebuilds `posts` (batch mode) drops the triggers with the old table: it must call `create`
again.
"""

from sqlalchemy import ColumnElement, Connection, func, or_, select, text

from app.posts.models import Post

POSTS = Post.__table__
FTS = "posts_fts"
TRIGRAM = 3
# What alembic must not compare with the models: the FTS table (and its shadow tables), the
# triggers keeping it, and PostgreSQL's expression indexes.
UNMODELLED_PREFIXES = (FTS, "ix_posts_title_trgm", "ix_posts_content_trgm")

_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(title, content, content='posts', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS posts_fts_insert AFTER INSERT ON posts BEGIN "
    "INSERT INTO posts_fts(rowid, title, content) VALUES (new.id, new.title, new.content); END",
    "CREATE TRIGGER IF NOT EXISTS posts_fts_delete AFTER DELETE ON posts BEGIN "
    "INSERT INTO posts_fts(posts_fts, rowid, title, content) "
    "VALUES ('delete', old.id, old.title, old.content); END",
    "CREATE TRIGGER IF NOT EXISTS posts_fts_update AFTER UPDATE OF title, content ON posts BEGIN "
    "INSERT INTO posts_fts(posts_fts, rowid, title, content) "
    "VALUES ('delete', old.id, old.title, old.content); "
    "INSERT INTO posts_fts(rowid, title, content) VALUES (new.id, new.title, new.content); END",
    "INSERT INTO posts_fts(posts_fts) VALUES ('rebuild')",
)
_POSTGRESQL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_posts_title_trgm ON posts USING gin (lower(title) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_posts_content_trgm ON posts "
    "USING gin (lower(content) gin_trgm_ops)",
)


def create(conn: Connection) -> None:
    """The backend's search index, built from the posts there are."""
    backend = conn.dialect.name
    for statement in (
        _SQLITE if backend == "sqlite" else _POSTGRESQL if backend == "postgresql" else ()
    ):
        conn.execute(text(statement))


def drop(conn: Connection) -> None:
    backend = conn.dialect.name
    if backend == "sqlite":
        for trigger in ("posts_fts_insert", "posts_fts_delete", "posts_fts_update"):
            conn.execute(text("DROP TRIGGER IF EXISTS " + trigger))
        conn.execute(text("DROP TABLE IF EXISTS posts_fts"))
    elif backend == "postgresql":
        conn.execute(text("DROP INDEX IF EXISTS ix_posts_title_trgm"))
        conn.execute(text("DROP INDEX IF EXISTS ix_posts_content_trgm"))


def unmodelled(name: str | None) -> bool:
    return name is not None and name.startswith(UNMODELLED_PREFIXES)


def _phrase(needle: str) -> str:
    # An FTS5 string: double quotes doubled; inside it nothing else is syntax.
    return '"' + needle.replace('"', '""') + '"'


def matching(q: str, backend: str) -> ColumnElement[bool]:
    """Posts whose title or content contains `q`, ignoring case; %, _ and / are literal."""
    needle = q.lower()
    scan = or_(
        func.lower(POSTS.c.title).contains(needle, autoescape=True),
        func.lower(POSTS.c.content).contains(needle, autoescape=True),
    )
    if backend != "sqlite" or len(needle) < TRIGRAM:
        # PostgreSQL's planner finds the trigram indexes for the LIKE itself.
        return scan
    candidates = (
        select(text("rowid"))
        .select_from(text(FTS))
        .where(text(f"{FTS} MATCH :fts_phrase").bindparams(fts_phrase=_phrase(needle)))
    )
    return POSTS.c.id.in_(candidates) & scan
