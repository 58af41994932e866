"""What keeps Quill correct and lean under concurrent load, checked functionally (the timings
themselves are bench/'s business)."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.core import security
from app.core.database import BEGIN_AT_FIRST_WRITE, for_requests, locking, make_engine
from app.users.models import User
from tests.utils.accounts import login


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'load.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield engine
    engine.dispose()


def _write_in_thread(engine: Engine, n: int, done: list[tuple[int, float]]) -> threading.Thread:
    def write() -> None:
        with Session(for_requests(engine)) as session:
            session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            session.commit()
        done.append((n, time.monotonic()))

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def _rows(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.exec_driver_sql("SELECT n FROM t").scalars())


def test_sqlite_read_then_write_survives_a_commit_in_between(sqlite_file: Engine) -> None:
    """The shape of POST /posts: read the caller, then write. A plain deferred transaction
    fails its write with 'database is locked' once another connection committed after its read.
    """
    done: list[tuple[int, float]] = []
    with Session(for_requests(sqlite_file)) as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 0
        _write_in_thread(sqlite_file, 2, done).join(timeout=10)
        assert [n for n, _ in done] == [2]  # the read held no lock: the other writer went ahead
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.commit()
    assert _rows(sqlite_file) == [1, 2]


def test_sqlite_writer_holds_the_lock_until_commit(sqlite_file: Engine) -> None:
    done: list[tuple[int, float]] = []
    with Session(for_requests(sqlite_file)) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        other = _write_in_thread(sqlite_file, 2, done)
        other.join(timeout=0.3)
        assert done == []  # queued behind our write lock (busy_timeout), not failed
        committed = time.monotonic()
        session.commit()
    other.join(timeout=10)
    assert [n for n, _ in done] == [2] and done[0][1] >= committed
    assert _rows(sqlite_file) == [1, 2]


def test_locking_read_takes_the_write_lock_on_sqlite(sqlite_file: Engine) -> None:
    """Refresh-token rotation reads with FOR UPDATE; SQLite has no row locks, so the read must
    keep every other writer out until the commit."""
    done: list[tuple[int, float]] = []
    with Session(for_requests(sqlite_file)) as session:
        session.execute(locking(select(text("n")).select_from(text("t")))).all()
        other = _write_in_thread(sqlite_file, 2, done)
        other.join(timeout=0.3)
        assert done == []
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.commit()
    other.join(timeout=10)
    assert _rows(sqlite_file) == [1, 2]


def test_request_sessions_begin_at_their_first_write(session_factory) -> None:
    with session_factory() as session:
        assert session.get_bind().get_execution_options().get(BEGIN_AT_FIRST_WRITE) is True


def test_login_holds_no_transaction_while_hashing(
    client: TestClient, make_user, db: Session, monkeypatch
) -> None:
    in_transaction: list[bool] = []
    verify = auth_service.verify_password

    def spy(password: str, hashed: str | None) -> tuple[bool, str | None]:
        in_transaction.append(db.in_transaction())
        return verify(password, hashed)

    monkeypatch.setattr(auth_service, "verify_password", spy)
    user = make_user()
    login(client, user.email)
    assert in_transaction == [False]
    assert db.scalar(select(User).where(User.id == user.id)) is not None


def test_hashes_run_on_their_own_bounded_threads(monkeypatch) -> None:
    """At most HASH_CONCURRENCY argon2 buffers at once, and only ever on the hashing threads:
    glibc keeps a freed buffer in the arena of the thread that used it."""
    active, peak, threads = 0, 0, set()
    lock = threading.Lock()

    def slow(*_args: object) -> tuple[bool, None]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            threads.add(threading.current_thread().name)
        time.sleep(0.05)
        with lock:
            active -= 1
        return True, None

    monkeypatch.setattr(security.pwd_context, "hash", slow)
    monkeypatch.setattr(security.pwd_context, "verify_and_update", slow)
    callers = [
        threading.Thread(target=security.hash_password, args=("pw",))
        for _ in range(security.hash_concurrency() * 2)
    ] + [
        threading.Thread(target=security.verify_password, args=("pw", "stored"))
        for _ in range(security.hash_concurrency() * 2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=10)
    assert peak == security.hash_concurrency()
    assert threads and all(name.startswith("quill-hash") for name in threads)
