"""How many posts each public list has, kept by the writes instead of counted by the reads.

GET /posts answers an exact `total`; counting the visible rows on every request made each page
cost as much as the table is large. So every write that changes what a list shows adjusts
counters in its own transaction, and a list's total is one indexed read.

Scheduled posts are the catch: they become visible with no write at all. A published post is
therefore in exactly one of two places:
- counted in `post_counts` (scopes: all posts, its author, each of its tags), when it was
  already public at its last write, or
- listed in `post_schedule` (its id, `published_at`, author), when it was scheduled for later.
A list's total is its counters plus its `post_schedule` rows that are due (`published_at <= now`),
exact at any moment. Post writes fold due rows into the counters as they go (`fold_due`), so
that range stays small.

The counters follow the ORM's flushes (`track`), not calls in each service: every write of a
post or deletion of an account (posts, a test's rows, an admin's) keeps them, and no service can
forget to. Before the flush, a changed or deleted post's row is locked and read afresh (what was
counted is what the database holds, not what was loaded earlier); after it, the new state is
counted. An account's posts go by ON DELETE CASCADE, so its deletion takes them out first.
Plain SQL writes to posts (bulk loads) bypass this: `rebuild` recounts after them (and
app.posts.changes.bump marks the public reads changed).

The all-posts counter is one logical row every publish updates; under concurrent writes its row
lock would serialise them until commit. So it is counters.SHARDS rows, and a read sums them (one
short index range). Each connection writes one shard (counters.shard), the same for all its
transactions, and every flush that changes a counter updates that shard's all-posts row first,
with a delta of 0 when it has none there. Two transactions on one shard then queue on that row
before either locks another counter, and transactions on different shards share no counter row.
A transaction may flush many times (creating a tagged post flushes twice), so sorting each
flush's keys alone would not order the locks across flushes. The fold skips posts another
transaction has locked.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Connection,
    ScalarSelect,
    String,
    cast,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session, UOWTransaction

from app.core import counters
from app.core.database import LOCKS
from app.core.models import utcnow
from app.posts import changes
from app.posts.models import Post, PostCount, PostSchedule, PostTag
from app.users.models import User

ALL, AUTHOR, TAG = "all", "author", "tag"
ALL_POSTS = (ALL, "")
COUNTS, SCHEDULE = PostCount.__table__, PostSchedule.__table__
POSTS, TAGS, USERS = Post.__table__, PostTag.__table__, User.__table__
# What a post's counting depends on; a change to anything else leaves the counters alone.
COUNTED_FIELDS = ("published", "published_at", "tags", "author_id")

Key = tuple[str, str]


def _scopes(author_id: int, tags: Iterable[str]) -> list[Key]:
    return [ALL_POSTS, (AUTHOR, str(author_id)), *((TAG, name) for name in tags)]


def _add(conn: Connection, deltas: Counter[Key]) -> None:
    """Add each delta to the connection's shard of its counter (creating the row when it is the
    first): the all-posts row first whenever any counter changes (the module's docstring says
    why), then the others in sorted order."""
    changed = {scope: delta for scope, delta in deltas.items() if delta}
    if not changed:
        return
    changed.setdefault(ALL_POSTS, 0)  # "all" sorts before "author" and "tag"
    shard = counters.shard(conn)
    for (kind, key), delta in sorted(changed.items()):
        counters.add(conn, PostCount, {"kind": kind, "key": key, "shard": shard}, delta)


def _locked(stmt: Any, *, skip_locked: bool = False) -> Any:
    return stmt.with_for_update(key_share=True, skip_locked=skip_locked).execution_options(
        **{LOCKS: True}
    )


def _post_rows(conn: Connection, where: Any, *, skip_locked: bool = False) -> list[Any]:
    """Posts' current counted fields, their rows locked for the rest of the transaction."""
    stmt = select(POSTS.c.id, *(POSTS.c[name] for name in COUNTED_FIELDS)).where(where)
    return list(conn.execute(_locked(stmt.order_by(POSTS.c.id), skip_locked=skip_locked)))


def _unschedule(conn: Connection, ids: list[int], *, due: datetime | None = None) -> set[int]:
    """Remove the posts' `post_schedule` rows; the ids whose row this transaction removed."""
    if not ids:
        return set()
    stmt = delete(PostSchedule).where(SCHEDULE.c.post_id.in_(ids))
    if due is not None:
        stmt = stmt.where(SCHEDULE.c.published_at <= due)
    return set(conn.scalars(stmt.returning(SCHEDULE.c.post_id)))


def _retract(conn: Connection, rows: list[Any], deltas: Counter[Key], *, author: bool) -> None:
    """Take the posts (locked rows) out of whatever counts them."""
    published = [row for row in rows if row.published]
    scheduled = _unschedule(conn, [row.id for row in published])
    for row in published:
        if row.id not in scheduled:
            deltas.update(
                {key: -1 for key in _scopes(row.author_id, row.tags) if author or key[0] != AUTHOR}
            )


def _record(conn: Connection, post: Any, deltas: Counter[Key], now: datetime) -> None:
    """Count `post` (its counted fields as the row now holds them), and keep its tag rows' copy
    of `published_at`."""
    public_at = post.published_at if post.published else None
    if post.tags:
        # Whole keys, not the post's range: InnoDB then locks these rows alone, no gap that a
        # concurrent insert of another post's tags would wait for.
        conn.execute(
            update(PostTag)
            .where(TAGS.c.post_id == post.id, TAGS.c.name.in_(post.tags))
            .values(published_at=public_at)
        )
    if public_at is None:
        return
    if public_at > now:
        conn.execute(
            insert(PostSchedule).values(
                post_id=post.id, published_at=public_at, author_id=post.author_id
            )
        )
    else:
        deltas.update(_scopes(post.author_id, post.tags))


def fold_due(conn: Connection, deltas: Counter[Key], now: datetime, *, limit: int = 100) -> None:
    """Move up to `limit` scheduled posts that have come due into `deltas`."""
    ids = list(
        conn.scalars(select(SCHEDULE.c.post_id).where(SCHEDULE.c.published_at <= now).limit(limit))
    )
    if not ids:
        return
    rows = {row.id: row for row in _post_rows(conn, POSTS.c.id.in_(ids), skip_locked=True)}
    for post_id in _unschedule(conn, sorted(rows), due=now):
        deltas.update(_scopes(rows[post_id].author_id, rows[post_id].tags))


def _changed(post: Post) -> bool:
    state = inspect(post)
    return any(state.attrs[name].history.has_changes() for name in COUNTED_FIELDS)


def _as_written(post: Post, row: Any) -> SimpleNamespace:
    """What the row will hold once the flush has written `post`: the flush writes the changed
    fields only, so the others are the locked row's, which may be newer than what was loaded."""
    state = inspect(post)
    fields = {
        name: getattr(post, name) if state.attrs[name].history.has_changes() else row[name]
        for name in COUNTED_FIELDS
    }
    return SimpleNamespace(id=post.id, **fields)


def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    # Whatever an earlier flush that failed left behind is not this one's.
    session.info.pop("quill_deltas", None)
    session.info.pop("quill_counted", None)
    deleted = [o for o in session.deleted if isinstance(o, Post)]
    # A post whose tag rows are rewritten is counted afresh even when no counted field changed:
    # the new rows need its `published_at` copied (_record).
    retagged = {o.post_id for o in session.new if isinstance(o, PostTag)}
    changed = [
        o
        for o in session.dirty
        if isinstance(o, Post) and o not in deleted and (_changed(o) or o.id in retagged)
    ]
    users = [o.id for o in session.deleted if isinstance(o, User)]
    fresh = [o for o in session.new if isinstance(o, Post)]
    if not (changed or deleted or users or fresh):
        return
    conn = session.connection()
    deltas: Counter[Key] = Counter()
    ids = [o.id for o in (*changed, *deleted)]
    rows = _post_rows(conn, POSTS.c.id.in_(ids)) if ids else []
    _retract(conn, rows, deltas, author=True)
    current = {row.id: row._mapping for row in rows}
    # A post deleted meanwhile has no row: its UPDATE will fail the flush, so it counts nowhere.
    written = [_as_written(post, current[post.id]) for post in changed if post.id in current]
    for user_id in users:
        forget_author(conn, deltas, author_id=user_id)
    session.info["quill_counted"] = (written, fresh)
    session.info["quill_deltas"] = deltas


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    deltas: Counter[Key] | None = session.info.pop("quill_deltas", None)
    written, fresh = session.info.pop("quill_counted", ([], []))
    if deltas is None:
        return
    conn = session.connection()
    now = utcnow()
    for post in (*written, *fresh):  # new posts: all their fields are this flush's
        _record(conn, post, deltas, now)
    fold_due(conn, deltas, now)
    _add(conn, deltas)


def forget_author(conn: Connection, deltas: Counter[Key], *, author_id: int) -> None:
    """Before an account is deleted: its posts out of the all-posts and tag counters, its own
    counter gone. The account row is locked first (a full lock, which a concurrent post insert's
    foreign-key check waits for), so no post of theirs appears after the posts are read."""
    conn.execute(
        select(USERS.c.id)
        .where(USERS.c.id == author_id)
        .with_for_update()
        .execution_options(**{LOCKS: True})
    )
    _retract(conn, _post_rows(conn, POSTS.c.author_id == author_id), deltas, author=False)
    conn.execute(delete(PostCount).where(COUNTS.c.kind == AUTHOR, COUNTS.c.key == str(author_id)))


def track() -> None:
    """Keep the counters with every session's flushes (called once, when the app is built)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)


def total(
    *, author_id: int | None = None, tag: str | None = None, now: datetime | None = None
) -> ScalarSelect[Any] | None:
    """The number of public posts of one author, or one tag, or in all, at `now` (the present by
    default), as a scalar subquery; None for a combination no counter holds (the caller counts
    rows then)."""
    if author_id is not None and tag is not None:
        return None
    kind, key = (
        (AUTHOR, str(author_id)) if author_id is not None else (TAG, tag) if tag else (ALL, "")
    )
    return counted_total(kind, key, now or utcnow(), author_id=author_id, tag=tag)


def counted_total(
    kind: str, key: Any, now: Any, *, author_id: Any = None, tag: Any = None
) -> ScalarSelect[Any]:
    """`total`'s statement for the counter `kind`/`key`, where `key`, `now`, `author_id` and `tag`
    may be bound parameters (app.posts.public builds the list's statements once so)."""
    counted = (
        select(func.coalesce(func.sum(COUNTS.c.n), 0))
        .where(COUNTS.c.kind == kind, COUNTS.c.key == key)
        .scalar_subquery()
    )
    due = select(func.count()).select_from(SCHEDULE).where(SCHEDULE.c.published_at <= now)
    if author_id is not None:
        due = due.where(SCHEDULE.c.author_id == author_id)
    if tag is not None:
        due = due.join(TAGS, TAGS.c.post_id == SCHEDULE.c.post_id).where(TAGS.c.name == tag)
    return select(counted + due.scalar_subquery()).scalar_subquery()


def rebuild(conn: Connection | Session) -> None:
    """Recount everything from the posts (after a bulk load, or in the migration)."""
    now = utcnow()
    conn.execute(delete(PostCount))
    conn.execute(delete(PostSchedule))
    published = POSTS.c.published.is_(True)
    public = published & (POSTS.c.published_at <= now)
    conn.execute(
        insert(PostSchedule).from_select(
            ["post_id", "published_at", "author_id"],
            select(POSTS.c.id, POSTS.c.published_at, POSTS.c.author_id).where(
                published, POSTS.c.published_at > now
            ),
        )
    )
    columns = ["kind", "key", "shard", "n"]
    zero = literal(0)
    scopes = (
        select(literal(ALL), literal(""), zero, func.count()).where(public),
        select(literal(AUTHOR), cast(POSTS.c.author_id, String), zero, func.count())
        .where(public)
        .group_by(POSTS.c.author_id),
        select(literal(TAG), TAGS.c.name, zero, func.count())
        .select_from(TAGS.join(POSTS, POSTS.c.id == TAGS.c.post_id))
        .where(public)
        .group_by(TAGS.c.name),
    )
    for scope in scopes:
        conn.execute(insert(PostCount).from_select(columns, scope))


# Registered on import: app.posts.public (every list) imports this module, so any process that
# can read a list keeps the counters when it writes; and the public version with them.
track()
changes.track()
