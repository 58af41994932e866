"""The public change counter: whether anything a public read shows has changed, in one read.

A public read (the post lists, a post, its comments, the tags, the feed) shows posts, their
tags, their comments, and their authors' and commenters' public fields. Every transaction that
writes any of those adds one to `public_version` before it commits, so a read can tell "nothing
changed since" from one indexed statement, without running its query (app/api/caching.py turns
that into 304s and a per-process page cache that every worker keeps correct).

Scheduled posts become visible with no write at all, so the marker a read compares is the pair
(version, number of `post_schedule` rows due now). Between writes the second only grows, at the
very moment a scheduled post appears; a write that folds due rows into the counters
(app/posts/counts.py) shrinks it but bumps the version too, so no two states share a marker.

Like the counters, this follows the ORM, not calls in each service: flushes that touch a post,
a tag row, a comment, or a user's public fields (and ORM-executed UPDATE/DELETE/INSERT
statements on those tables) mark the session; the bump happens once, in `before_commit`, after
the last flush. Taking the row lock last and once keeps writers from deadlocking over it, and
holds it only for the commit itself. Each pooled connection adds to its own one of
counters.SHARDS rows (counters.shard), so concurrent writers rarely wait on one another. Plain
SQL writes (bulk loads) call `bump` themselves (counts.rebuild does).
"""

from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    bindparam,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from app.comments.models import Comment
from app.core import counters
from app.core.driver_reads import DriverRead, fetch_pooled
from app.core.models import utcnow
from app.posts.models import Post, PostSchedule, PostTag, PublicVersion
from app.users.models import User

VERSION, SCHEDULE = PublicVersion.__table__, PostSchedule.__table__
# A user's fields some public read shows (as an author or a commenter).
USER_FIELDS = ("name", "bio", "avatar_name")
PUBLIC_TABLES = frozenset(model.__tablename__ for model in (Post, PostTag, Comment, User))
PUBLIC_ROWS = (Post, PostTag, Comment)
CHANGED = "quill_public_changed"

Marker = tuple[int, int]


def _user_changed(user: User) -> bool:
    attrs = inspect(user).attrs
    return any(attrs[name].history.has_changes() for name in USER_FIELDS)


def touches_public(session: Session) -> bool:
    """Whether the pending flush changes anything a public read shows."""
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, (*PUBLIC_ROWS, User)):
            # A new user shows nowhere until they write; counting it is harmless and simpler.
            return True
    for obj in session.dirty:
        if isinstance(obj, PUBLIC_ROWS) and session.is_modified(obj):
            return True
        if isinstance(obj, User) and _user_changed(obj):
            return True
    return False


def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    if touches_public(session):
        session.info[CHANGED] = True


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in PUBLIC_TABLES:
        state.session.info[CHANGED] = True


def _before_commit(session: Session) -> None:
    session.flush()  # what the commit would flush decides too
    if session.info.pop(CHANGED, False):
        bump(session.connection())


def _after_rollback(session: Session) -> None:
    # Nothing of the transaction stays; a savepoint's rollback is not this hook's.
    if not session.in_transaction():
        session.info.pop(CHANGED, None)


def bump(conn: Connection) -> None:
    """Add one to this connection's shard of the version (in the caller's transaction)."""
    counters.add(conn, PublicVersion, {"shard": counters.shard(conn)}, 1)


def marker_query() -> Select[int, int]:
    """One statement: the version and the number of scheduled posts due at `:now`."""
    version = select(func.coalesce(func.sum(VERSION.c.n), 0)).scalar_subquery()
    due = (
        select(func.count())
        .select_from(SCHEDULE)
        .where(SCHEDULE.c.published_at <= bindparam("now", type_=SCHEDULE.c.published_at.type))
    ).scalar_subquery()
    return select(version, due)


# Built once: building it is most of what a 304 costs.
MARKER = marker_query()


def read_marker(session: Session | Connection) -> Marker:
    row = session.execute(MARKER, {"now": utcnow()}).one()
    return int(row[0]), int(row[1])


class MarkerReader:
    """`read_marker` on a DBAPI cursor of `engine`'s pool (app.core.driver_reads), for the reads
    that run it alone: it is the whole cost of a 304 or a cached page. On PostgreSQL it runs in
    autocommit: one round trip, no BEGIN and ROLLBACK around it.

    A driver error goes back through SQLAlchemy: a lost connection is invalidated, and the read is
    made once more on a Connection, so what fails raises the same exceptions as before.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.read = DriverRead(MARKER, engine.dialect, variables=("now",))

    def __call__(self) -> Marker:
        try:
            rows = fetch_pooled(self.engine, self.read, {"now": utcnow()})
        except self.engine.dialect.loaded_dbapi.Error:
            with self.engine.connect() as retry:
                return read_marker(retry)
        if not rows:
            raise RuntimeError("the marker statement answered no row")
        return int(rows[0][0]), int(rows[0][1])


def track() -> None:
    """Keep the version with every session's writes (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_rollback", _after_rollback)


# Registered on import, like app.posts.counts: anything that reads or writes public data
# imports this module (app.posts.counts does).
track()
