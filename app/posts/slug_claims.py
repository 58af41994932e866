"""Giving a post its slug as it is inserted, safely when many posts with one title arrive at once.

The unique constraint on posts.slug decides, not a read before the write: two requests that both
read "hello is free" would otherwise both insert it. Each attempt inserts inside a SAVEPOINT; when
the slug's constraint refuses it, the savepoint is rolled back and the next number is tried. The
numbers known to be taken are kept across attempts, because on MariaDB (REPEATABLE READ) a read
repeated in the same transaction does not see what the winner of the race just committed.
"""

import re
import secrets
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.posts.errors import SlugTakenError
from app.posts.models import Post
from app.posts.slugs import SLUG_MAX, numbered, slug_base

# Numbered attempts before a random suffix: a race of this many posts with one title still gets
# -2, -3...; beyond it (a flood of one title) a random suffix cannot keep colliding.
NUMBERED_ATTEMPTS = 20
RANDOM_ATTEMPTS = 5
# A title with more numbered forms than this is crowded: reading them all on every new post would
# grow with the table, so such a title goes straight to a random suffix.
TAKEN_READ_LIMIT = 200
# What names the slug's unique constraint in each backend's duplicate-key message (SQLite names
# the column `posts.slug`, MariaDB and PostgreSQL the constraint `uq_posts_slug`).
_SLUG_CLASH = re.compile(r"\bposts\.slug\b|\buq_posts_slug\b")


def is_slug_clash(error: IntegrityError) -> bool:
    return _SLUG_CLASH.search(str(error.orig)) is not None


def _taken(session: Session, base: str) -> set[str] | None:
    """Slugs that `base` or a numbered form of it could collide with (numbered() may shorten the
    base, so the prefix is cut to what every numbered form keeps); None when the title is
    crowded (more than TAKEN_READ_LIMIT of them)."""
    prefix = base[: SLUG_MAX - 10].rstrip("-")
    found = set(
        session.scalars(
            select(Post.slug)
            .where(Post.slug.startswith(prefix, autoescape=True))
            .limit(TAKEN_READ_LIMIT + 1)
        )
    )
    return None if len(found) > TAKEN_READ_LIMIT else found


def _candidates(session: Session, base: str, refused: set[str]) -> Iterator[str]:
    """`base` first (no read: most titles are new), then the free numbered forms (unless the
    title is crowded), then random ones."""
    yield base
    taken = _taken(session, base)
    n = 2
    for _ in range(NUMBERED_ATTEMPTS if taken is not None else 0):
        while numbered(base, n) in (taken or set()) | refused:
            n += 1
        yield numbered(base, n)
    for _ in range(RANDOM_ATTEMPTS):
        yield numbered(base, secrets.randbelow(10**9))


def _insert(session: Session, post: Post) -> bool:
    """Insert `post` in a savepoint: False if its slug was taken (the savepoint is undone)."""
    try:
        with session.begin_nested():
            session.add(post)
    except IntegrityError as exc:
        if not is_slug_clash(exc):
            raise
        return False
    return True


def insert_with_slug(session: Session, post: Post, *, title: str, wanted: str | None) -> None:
    """Insert `post` (flushed, not committed) with the slug `wanted`, or else one made from
    `title`. A `wanted` slug that is taken is SlugTakenError (409), also when another request
    takes it between our read and our write; a made one takes the next free number."""
    if wanted is not None:
        post.slug = wanted
        if not _insert(session, post):
            session.rollback()
            raise SlugTakenError()
        return
    refused: set[str] = set()
    for candidate in _candidates(session, slug_base(title), refused):
        post.slug = candidate
        if _insert(session, post):
            return
        refused.add(candidate)
    session.rollback()
    raise SlugTakenError("Could not find a free slug for this title: choose one")


def change_slug(session: Session, post: Post, slug: str) -> None:
    """Give an existing post `slug`, flushed in a savepoint: SlugTakenError if it is taken, with
    the whole change rolled back (the other fields of the PATCH too: nothing half-written)."""
    if slug == post.slug:
        return
    try:
        with session.begin_nested():
            post.slug = slug
    except IntegrityError as exc:
        if not is_slug_clash(exc):
            raise
        session.rollback()
        raise SlugTakenError() from exc
