"""GET /posts?q=: a case-insensitive literal substring of the title or the content, through an
index where the database has one.

`LIKE '%…%'` cannot use a B-tree, so every search read every post. Trigram indexes can answer
substring questions: SQLite's FTS5 `trigram` tokenizer and PostgreSQL's pg_trgm (GIN indexes on
lower(title) and lower(content)). MariaDB has no trigram index, and its FULLTEXT indexes match
words, not substrings: it scans.

PostgreSQL's trigrams narrow too little where words are common: pg_trgm splits on spaces, so
"quill ink" asks for any post holding both words anywhere, which with a small vocabulary is a
third of them, each then read and matched again. A needle of GRAM characters or more is found
through a second GIN index instead, over the GRAM-character substrings of the post's text
spaces included (`quill_post_grams`): "ll in" stands where the two words meet, so the
candidates are little more than the matches. Its functions are SQL, extracting the substrings
with a regular expression at each of GRAM offsets (linear in the text; `substr` at each
position would walk the string from its start every time), and declared costly so the planner
puts every cheaper condition before them where it filters rather than uses the index.

The meaning is the naive one on every backend: `lower(column) LIKE '%' || needle || '%'`, with
the needle lower-cased by Python and %, _ and the escape character literal. On PostgreSQL the
indexes only narrow the candidates and the LIKE decides: every GRAM-character substring of the
needle is one of the text it is in, however the two were lower-cased. On SQLite the index
decides alone, and answers exactly what the LIKE would (tests/posts/test_search.py checks it):
- the FTS table holds `lower(title)` and `lower(content)` as SQLite computes them (ASCII letters
  folded, nothing else), and its tokenizer is case-sensitive, so it folds nothing more;
- the needle is lower-cased by Python, so it has no ASCII capital left: SQLite's LIKE, which
  ignores ASCII case only, then compares exactly, as the phrase does;
- a trigram phrase matches where the needle's characters stand consecutively in one column,
  which is what a LIKE of the escaped needle between two `%` asks.
A needle shorter than three characters has no trigram; it is matched by the scan alone. Text
holds no NUL (app/core/text.py), where LIKE would stop and the tokenizer would not.

The FTS table is contentless (the rows are in `posts`) and holds published posts only, kept by
triggers that hand it the same lowered values on delete as on insert. SQLAlchemy's metadata
knows none of these objects (alembic/env.py leaves them out of its comparison). On SQLite, a
migration that rebuilds `posts` (batch mode) drops the triggers with the old table: it must call
`create` again.
"""

from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Text,
    and_,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.core.models import UTCDateTime, utcnow
from app.posts.models import Post

POSTS = Post.__table__
FTS = "posts_search"
# The public list's index (app/posts/models.py): published posts by published_at.
LISTED = "ix_posts_published_published_at_id"
TRIGRAM = 3
GRAM = 6
# What alembic must not compare with the models: the FTS table (and its shadow tables), the
# triggers keeping it (and those of the table before it), and PostgreSQL's expression indexes.
UNMODELLED_PREFIXES = (
    FTS,
    "posts_fts",
    "ix_posts_title_trgm",
    "ix_posts_content_trgm",
    "ix_posts_grams",
)

# Published posts only (a search is of public posts): a draft costs a search nothing. The delete
# must hand FTS5 exactly what the insert did, hence the same conditions on both sides.
_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS posts_search USING fts5(title, content, content='', "
    "columnsize=0, tokenize='trigram case_sensitive 1')",
    "CREATE TRIGGER IF NOT EXISTS posts_search_insert AFTER INSERT ON posts WHEN new.published "
    "BEGIN INSERT INTO posts_search(rowid, title, content) "
    "VALUES (new.id, lower(new.title), lower(new.content)); END",
    "CREATE TRIGGER IF NOT EXISTS posts_search_delete AFTER DELETE ON posts WHEN old.published "
    "BEGIN INSERT INTO posts_search(posts_search, rowid, title, content) "
    "VALUES ('delete', old.id, lower(old.title), lower(old.content)); END",
    "CREATE TRIGGER IF NOT EXISTS posts_search_update "
    "AFTER UPDATE OF title, content, published ON posts BEGIN "
    "INSERT INTO posts_search(posts_search, rowid, title, content) "
    "SELECT 'delete', old.id, lower(old.title), lower(old.content) WHERE old.published; "
    "INSERT INTO posts_search(rowid, title, content) "
    "SELECT new.id, lower(new.title), lower(new.content) WHERE new.published; END",
    # Refilled from posts: a contentless table has no 'rebuild'.
    "INSERT INTO posts_search(posts_search) VALUES ('delete-all')",
    "INSERT INTO posts_search(rowid, title, content) "
    "SELECT id, lower(title), lower(content) FROM posts WHERE published",
)
_POSTGRESQL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_posts_title_trgm ON posts USING gin (lower(title) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_posts_content_trgm ON posts "
    "USING gin (lower(content) gin_trgm_ops)",
    # Every GRAM-character substring: at offsets 1..GRAM, the string cut in consecutive pieces.
    # (Both 6s are GRAM.)
    "CREATE OR REPLACE FUNCTION quill_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE "
    "STRICT PARALLEL SAFE COST 10000 AS $$ SELECT array_agg(piece[1]) "
    "FROM generate_series(1, 6) AS start, "
    "regexp_matches(substr(t, start), '(.{6})', 'g') AS piece $$",
    "CREATE OR REPLACE FUNCTION quill_post_grams(title text, content text) RETURNS text[] "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10000 "
    "AS $$ SELECT quill_grams(lower(title) || E'\\n' || lower(content)) $$",
    "CREATE INDEX IF NOT EXISTS ix_posts_grams ON posts "
    "USING gin (quill_post_grams(title, content)) WHERE published",
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
        # posts_fts: the index before migration 0014 (case-folding, with a LIKE recheck).
        for name in ("posts_search", "posts_fts"):
            for trigger in ("insert", "delete", "update"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}_{trigger}"))
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    elif backend == "postgresql":
        conn.execute(text("DROP INDEX IF EXISTS ix_posts_title_trgm"))
        conn.execute(text("DROP INDEX IF EXISTS ix_posts_content_trgm"))
        conn.execute(text("DROP INDEX IF EXISTS ix_posts_grams"))
        conn.execute(text("DROP FUNCTION IF EXISTS quill_post_grams(text, text)"))
        conn.execute(text("DROP FUNCTION IF EXISTS quill_grams(text)"))


def unmodelled(name: str | None) -> bool:
    return name is not None and name.startswith(UNMODELLED_PREFIXES)


def _phrase(needle: str) -> str:
    # An FTS5 string: double quotes doubled; inside it nothing else is syntax.
    return '"' + needle.replace('"', '""') + '"'


def _indexed(q: str, backend: str) -> bool:
    return backend == "sqlite" and len(q.lower()) >= TRIGRAM


def _by_grams(q: str, backend: str) -> bool:
    return backend == "postgresql" and len(q.lower()) >= GRAM


def matching(q: str, backend: str) -> ColumnElement[bool]:
    """Posts whose title or content contains `q`, ignoring case; %, _ and / are literal. Only
    among published posts (the caller says so): PostgreSQL's gram index holds no other."""
    needle = q.lower()
    if _indexed(q, backend):
        # Published posts only, as the public list's own conditions ask anyway.
        candidates = (
            select(text("rowid"))
            .select_from(text(FTS))
            .where(text(f"{FTS} MATCH :fts_phrase").bindparams(fts_phrase=_phrase(needle)))
        )
        return POSTS.c.id.in_(candidates)
    scanned = or_(
        func.lower(POSTS.c.title).contains(needle, autoescape=True),
        func.lower(POSTS.c.content).contains(needle, autoescape=True),
    )
    if not _by_grams(q, backend):
        # PostgreSQL's planner finds the trigram indexes for the LIKE itself.
        return scanned
    # The index's own expression; its predicate (`published`) is the caller's: only public posts
    # are searched.
    grams = func.quill_post_grams(POSTS.c.title, POSTS.c.content, type_=ARRAY(Text))
    return and_(grams.contains(func.quill_grams(needle, type_=ARRAY(Text))), scanned)


def _grams_page(q: str, total: str) -> Select[Any]:
    """PostgreSQL: every public match found once, through the gram index, then sorted and
    counted. Asked for a page alone, the planner, which takes a phrase's substrings for
    independent and so expects almost no match, would find them all for it, and again for the
    total; and walking the list's index instead costs as much for a rare needle."""
    now = utcnow()
    matches = (
        select(POSTS.c.id, POSTS.c.published_at)
        .where(POSTS.c.published == true(), POSTS.c.published_at <= now, matching(q, "postgresql"))
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    found = select(func.count()).select_from(matches).scalar_subquery()
    return select(matches.c.id, found.label(total)).order_by(
        matches.c.published_at.desc(), matches.c.id.desc()
    )


def public_page(q: str, backend: str, total: str) -> Select[Any] | None:
    """The ids of the public posts matching `q`, newest first, each row with their number as the
    column `total`, from one search; None where the index cannot answer so (the caller counts).
    PostgreSQL: through the gram index (_grams_page). SQLite: the matches are found once:
    the page walks LISTED (newest first) keeping the matching ids, and their number is the
    published matches less those scheduled for later (a short range of LISTED). SQLite's planner
    does not pick LISTED without statistics, and SQLAlchemy writes no `INDEXED BY`: hence the
    textual FROM and the unbound columns."""
    if _by_grams(q, backend):
        return _grams_page(q, total)
    if not _indexed(q, backend):
        return None
    matches = (
        select(literal_column("rowid", Integer).label("id"))
        .select_from(text(FTS))
        .where(text(f"{FTS} MATCH :fts_phrase").bindparams(fts_phrase=_phrase(q.lower())))
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    listed = text(f"posts INDEXED BY {LISTED}")
    post_id = literal_column("id", Integer)
    published_at = literal_column("published_at", UTCDateTime())
    published = literal_column("published", Boolean) == true()
    now = utcnow()
    matching = post_id.in_(select(matches.c.id))
    later = select(func.count()).select_from(listed).where(published, published_at > now, matching)
    found = select(func.count()).select_from(matches).scalar_subquery() - later.scalar_subquery()
    return (
        select(post_id, found.label(total))
        .select_from(listed)
        .where(published, published_at <= now, matching)
        .order_by(published_at.desc(), post_id.desc())
    )
