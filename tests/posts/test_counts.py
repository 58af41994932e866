"""The lists' counters (app/posts/counts.py) stay exact: after a random workload of creates,
publishes, unpublishes, schedules, tag changes, deletes and account deletions, some of them at
once on separate sessions, every counter-derived total equals count(*) of the visible rows."""

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine, delete, exists, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.core import counters
from app.core.database import Database, make_engine
from app.core.errors import NotFoundError
from app.core.models import utcnow
from app.posts import counts
from app.posts import service as posts
from app.posts.models import Post, PostCount, PostSchedule, PostTag
from app.posts.schemas import PostCreate, PostUpdate
from app.uploads.storage import LocalStorage
from app.users import service as users
from app.users.models import User
from tests.utils.db import committed_user

TAGS = ("alpha", "beta", "gamma", "delta", "café")
AUTHORS = 6
OPERATIONS = 160
# Close enough that some scheduled posts come due during the test, and must be counted then.
SOON = timedelta(seconds=2)
# A post deleted by one thread while another changes it; MariaDB's deadlock detector picking a
# victim. Either way that transaction rolls back whole, counters included.
RACES = (StaleDataError, NotFoundError, OperationalError)


@pytest.fixture
def sessions(session_factory: sessionmaker[Session]) -> Callable[[], AbstractContextManager[Any]]:
    @contextmanager
    def opened() -> Iterator[Session]:
        with session_factory() as session:
            yield session

    return opened


def _publication(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.3:
        return {"published": False}
    if roll < 0.5:
        return {"published": True, "published_at": utcnow() + SOON * rng.random()}
    if roll < 0.6:
        return {"published": True, "published_at": utcnow() + timedelta(days=3)}
    return {"published": True}


def _operation(
    session: Session, rng: random.Random, authors: list[int], storage: LocalStorage
) -> None:
    ids = list(session.scalars(select(Post.id).where(Post.author_id.in_(authors))))
    roll = rng.random()
    if roll < 0.4 or not ids:
        author = session.get(User, rng.choice(authors))
        if author is None:
            return
        data = PostCreate(
            title="Counted",
            content="Some words",
            # Its own slug: free-slug picking is another issue's (not race-safe on its own).
            slug=f"counted-{uuid4().hex}",
            tags=rng.sample(TAGS, rng.randrange(3)),
            **_publication(rng),
        )
        posts.create_post(session, author=author, data=data)
        return
    post = session.get(Post, rng.choice(ids))
    if post is None:
        return
    if roll < 0.85:
        change: dict[str, Any] = rng.choice(
            [_publication(rng), {"tags": rng.sample(TAGS, rng.randrange(4))}, {"title": "Renamed"}]
        )
        posts.update_post(session, post=post, data=PostUpdate(**change))
    else:
        posts.delete_post(session, storage=storage, post=post)


def _visible_count(
    session: Session, now: datetime, *, author_id: int | None = None, tag: str | None = None
) -> int:
    stmt = (
        select(func.count())
        .select_from(Post)
        .where(Post.published.is_(True), Post.published_at <= now)
    )
    if author_id is not None:
        stmt = stmt.where(Post.author_id == author_id)
    if tag is not None:
        stmt = stmt.where(exists().where(PostTag.post_id == Post.id, PostTag.name == tag))
    return int(session.scalar(stmt) or 0)


def _assert_exact(session: Session, authors: list[int]) -> None:
    scopes: list[dict[str, Any]] = [{}]
    scopes += [{"author_id": a} for a in authors]
    scopes += [{"tag": t} for t in TAGS]
    for scope in scopes:
        # One moment for both: a scheduled post coming due between two statements each reading
        # the clock would count in the second only.
        now = utcnow()
        counted = session.scalar(select(counts.total(**scope, now=now)))
        assert counted == _visible_count(session, now, **scope), scope


def test_counters_match_count_after_a_random_concurrent_workload(
    sessions: Callable[[], AbstractContextManager[Session]],
    password_hash: str,
    tmp_path: Path,
) -> None:
    rng = random.Random(13)
    storage = LocalStorage(tmp_path / "uploads")
    with sessions() as session:
        # Other tests' committed leftovers are not this test's business: start from a recount.
        counts.rebuild(session)
        session.commit()
        created = [
            User(email=f"counted{i}@example.com", hashed_password=password_hash, name=f"C{i}")
            for i in range(AUTHORS)
        ]
        session.add_all(created)
        session.commit()
        authors = [user.id for user in created]
    try:

        def run(seed: int) -> None:
            local = random.Random(seed)
            for _ in range(OPERATIONS // 8):
                with sessions() as session:
                    try:
                        _operation(session, local, authors, storage)
                    except RACES:
                        session.rollback()  # lost a race the counters need not win

        for _ in range(OPERATIONS // 2):
            with sessions() as session:
                _operation(session, rng, authors, storage)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(run, range(4)))
        with sessions() as session:
            _assert_exact(session, authors)
            # One account goes, with its posts (by cascade), its counter, its tags' share.
            users.delete_user(session, storage=storage, user=session.get(User, authors[0]))
            _assert_exact(session, authors)
        time.sleep(SOON.total_seconds())
        with sessions() as session:
            # Scheduled posts now due are counted before any write folds them in ...
            _assert_exact(session, authors)
            author = session.get(User, authors[1])
            assert author is not None
            data = PostCreate(title="Last", content="Words", slug=f"last-{uuid4().hex}")
            posts.create_post(session, author=author, data=data)
        with sessions() as session:
            # ... and folded by the next write, leaving the due range empty.
            due = select(func.count()).select_from(PostSchedule)
            assert session.scalar(due.where(PostSchedule.published_at <= utcnow())) == 0
            _assert_exact(session, authors)
            tagged = select(PostTag.published_at, Post.published, Post.published_at).join(
                Post, Post.id == PostTag.post_id
            )
            for tag_at, published, published_at in session.execute(tagged):
                assert tag_at == (published_at if published else None)
    finally:
        with sessions() as session:
            for user in session.scalars(select(User).where(User.id.in_(authors))):
                users.delete_user(session, storage=storage, user=user)
            session.execute(delete(User).where(User.id.in_(authors)))
            session.commit()


def test_tags_set_again_unchanged_keep_the_copy_of_published_at(
    db: Session, make_user: Callable[..., User]
) -> None:
    """A PATCH whose tags equal the post's own changes no counted field, yet its tag rows must
    still carry the post's `published_at` (the ?tag= pages read it there)."""
    author = make_user()
    data = PostCreate(title="Same tags", content="Words", tags=["alpha", "beta"], published=True)
    post = posts.create_post(db, author=author, data=data)
    posts.update_post(db, post=post, data=PostUpdate(tags=["alpha", "beta"]))
    db.expire_all()
    copies = db.scalars(select(PostTag.published_at).where(PostTag.post_id == post.id)).all()
    assert sorted(copies) == [post.published_at, post.published_at]
    assert counts_total(db, tag="alpha") == 1


def counts_total(session: Session, *, tag: str) -> int:
    return int(session.scalar(select(counts.total(tag=tag))) or 0)


def test_two_transactions_creating_one_counter_row_both_count(engine: Engine) -> None:
    """The first post of a tag, published by two transactions at once: each finds no counter
    row and creates it. The second must add to the first's row, not fail on its key."""
    key = ("tag", f"race-{uuid4().hex[:8]}")
    row = {"kind": key[0], "key": key[1], "shard": 0}
    first_inserted, errors = threading.Event(), []

    def second() -> None:
        first_inserted.wait()
        try:
            with engine.begin() as conn:
                counters.add(conn, PostCount, row, 1)
        except Exception as exc:  # the assertion below reports it
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    try:
        with engine.begin() as conn:
            counters.add(conn, PostCount, row, 1)
            first_inserted.set()
            time.sleep(0.5)  # the second now waits on (or has missed) this uncommitted row
        thread.join(timeout=30)
        assert errors == []
        with engine.connect() as conn:
            total = conn.scalar(select(counts.total(tag=key[1])))
        assert total == 2
    finally:
        with engine.begin() as conn:
            conn.execute(delete(PostCount).where(PostCount.key == key[1]))


def test_each_flush_takes_its_shards_all_posts_counter_first(
    db: Session, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a tagged post flushes twice: the post (the all-posts and author counters), then
    its tag rows (the tag counters alone). Each flush must still start at the all-posts row of
    the one shard its connection writes, or two transactions could lock counters in opposite
    orders across their flushes (the deadlock test below)."""
    flushes: list[list[tuple[str, str, int]]] = []
    add, add_deltas = counters.add, counts._add

    def recording_add(conn: Any, model: Any, key: dict[str, Any], delta: int) -> None:
        if model is PostCount:
            flushes[-1].append((key["kind"], key["key"], key["shard"]))
        add(conn, model, key, delta)

    def recording_flush(conn: Any, deltas: Counter[counts.Key]) -> None:
        flushes.append([])
        add_deltas(conn, deltas)

    monkeypatch.setattr(counters, "add", recording_add)
    monkeypatch.setattr(counts, "_add", recording_flush)
    author = make_user()
    for n in range(4):
        data = PostCreate(title=f"Flush {n}", content="w", tags=["alpha", "beta"], published=True)
        posts.create_post(db, author=author, data=data)
    written = [flush for flush in flushes if flush]
    assert len(written) == 8
    assert [flush[0][:2] for flush in written] == [("all", "")] * 8
    assert len({shard for flush in written for _, _, shard in flush}) == 1


def test_transactions_flushing_counters_in_opposite_orders_do_not_deadlock(
    engine: Engine,
    session_factory: sessionmaker[Session],
    password_hash: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A retags a published post (tag counters), B creates a post with the new tag (all-posts
    and author counters, then the tag's, which A holds), then A publishes a post (all-posts,
    which B holds). Both on one shard, as any two connections may be: B must queue behind A,
    not lock in the other order and deadlock (the database would kill one of them)."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: no row locks to take out of order")
    monkeypatch.setattr(counters.random, "randrange", lambda _n: 0)
    # Its own pool: the shared one's connections already have their shard.
    own = Database(make_engine(engine.url.render_as_string(hide_password=False)))
    tag, new_tag = f"x-{uuid4().hex[:6]}", f"y-{uuid4().hex[:6]}"
    errors: list[Exception] = []
    email = f"deadlock-{uuid4().hex[:6]}@example.com"
    with committed_user(session_factory, email=email, hashed_password=password_hash) as user:
        with session_factory() as session:
            data = PostCreate(title="Retagged", content="w", tags=[tag], published=True)
            retagged = posts.create_post(session, author=user, data=data).id
        b_started = threading.Event()

        def b() -> None:
            try:
                with own.sessions() as session:
                    author = session.get(User, user.id)
                    assert author is not None
                    b_started.set()
                    data = PostCreate(title="B", content="w", tags=[new_tag], published=True)
                    posts.create_post(session, author=author, data=data)
            except Exception as exc:  # the assertion below reports it
                b_started.set()
                errors.append(exc)

        thread = threading.Thread(target=b)
        try:
            with own.sessions() as a:
                post = a.get(Post, retagged)
                assert post is not None
                posts._set_tags(a, post, [new_tag])
                a.flush()
                thread.start()
                b_started.wait(timeout=10)
                time.sleep(0.5)  # B's flushes now wait on A's counter rows
                a.add(
                    posts.new_post(
                        author_id=user.id, slug=f"a-{tag}", title="A", content="w", published=True
                    )
                )
                a.flush()
                a.commit()
        except Exception as exc:
            errors.append(exc)
        finally:
            thread.join(timeout=30)
            own.dispose()
        assert errors == []
        with session_factory() as session:
            assert counts_total(session, tag=new_tag) == 2
            assert counts_total(session, tag=tag) == 0
