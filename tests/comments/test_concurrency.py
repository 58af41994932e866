"""Comment writes at once against `python -m app serve` (real threads, real connections, the run's
database): no counter update is lost, whichever requests interleave.

The `client` fixture shares one rolled-back connection, which serialises everything; a lost
update needs transactions that really overlap.
"""

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.comments.models import Comment
from app.core.database import Database
from app.posts.models import Post
from tests.utils.accounts import PASSWORD, bearer
from tests.utils.db import committed_user
from tests.utils.servers import REPO_ROOT, free_port, serve
from tests.utils.settings import run_environment

THREADS = 6
EACH = 6


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        **run_environment(),
        "PORT": str(free_port()),
        "LOGIN_LOG_FILE": str(tmp_path / "login_log.txt"),
        "REQUEST_LOG_FILE": str(tmp_path / "requests.log"),
        "RATE_LIMIT_ENABLED": "false",
    }
    with serve(env, cwd=REPO_ROOT, log=tmp_path / "server.log") as url:
        yield url


Job = Callable[[httpx.Client], list[int]]


def _at_once(jobs: list[Job], base: str) -> list[int]:
    """Run every job on its own thread and connection, released together; every status."""
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []
    lock = threading.Lock()

    def run(job: Job) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            barrier.wait()
            answered = job(client)
        with lock:
            statuses.extend(answered)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def _creates(post_id: int, headers: dict[str, str]) -> Job:
    def job(client: httpx.Client) -> list[int]:
        path = f"/posts/{post_id}/comments"
        return [
            client.post(path, headers=headers, json={"body": "hi"}).status_code for _ in range(EACH)
        ]

    return job


def _stored(database: Database, post_id: int) -> tuple[int, int]:
    with database.sessions() as session:
        kept = session.scalar(select(Post.comment_count).where(Post.id == post_id))
        real = session.scalar(select(func.count()).where(Comment.post_id == post_id))
    return int(kept or 0), int(real or 0)


def test_concurrent_creates_and_deletes_lose_no_update(
    base: str, database: Database, password_hash: str
) -> None:
    names = ("alice", "bob", "carol")
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(
                committed_user(
                    database.sessions,
                    email=f"race-{name}@example.com",
                    hashed_password=password_hash,
                    name=name,
                )
            )
        headers = {}
        for name in names:
            login = {"email": f"race-{name}@example.com", "password": PASSWORD}
            tokens = httpx.post(base + "/auth/login", json=login, timeout=30).json()
            headers[name] = bearer(tokens["access_token"])
        post = httpx.post(
            base + "/posts",
            headers=headers["alice"],
            json={"title": "Busy", "content": "c", "published": True},
            timeout=30,
        ).json()
        post_id = post["id"]
        writers = [headers[names[i % 3]] for i in range(THREADS)]
        assert _at_once([_creates(post_id, h) for h in writers], base) == [201] * THREADS * EACH
        assert _stored(database, post_id) == (THREADS * EACH, THREADS * EACH)

        # Deletes (by their authors and by the post's author) racing more creates.
        listed = httpx.get(f"{base}/posts/{post_id}/comments?per_page=100", timeout=30).json()
        doomed = [(c["id"], c["author"]["name"]) for c in listed["data"][: THREADS * 2]]

        def deletes(pairs: list[tuple[int, str]]) -> Job:
            def job(client: httpx.Client) -> list[int]:
                return [
                    client.delete(
                        f"/comments/{cid}", headers=headers[who if i % 2 else "alice"]
                    ).status_code
                    for i, (cid, who) in enumerate(pairs)
                ]

            return job

        jobs = [deletes(doomed[i::THREADS]) for i in range(THREADS)]
        jobs += [_creates(post_id, h) for h in writers[:3]]
        statuses = sorted(_at_once(jobs, base))
        assert statuses == sorted([204] * len(doomed) + [201] * 3 * EACH)
        expected = THREADS * EACH - len(doomed) + 3 * EACH
        assert _stored(database, post_id) == (expected, expected)
