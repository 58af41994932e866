"""The Atom feed (GET /feed.xml): the newest public posts, optionally of one author or one tag.

The rows come from the public list's statement (app.posts.public.newest_rows), so the feed
and GET /posts agree on what is public and on what `tag` means; feedgen writes the XML. What we
add: stable ids, and a deterministic document — the feed's `updated` is taken from its entries,
never from the clock, so the same posts give the same bytes and the same ETag (app.api.caching).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from feedgen.feed import FeedGenerator
from sqlalchemy import Row
from sqlalchemy.orm import Session

from app.posts.public import newest_rows

FEED_SIZE = 20
MEDIA_TYPE = "application/atom+xml"
# An empty feed still needs an `updated`: a fixed instant keeps its bytes (and ETag) stable.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Characters XML 1.0 cannot carry at all (lxml refuses them); content may hold some, e.g. U+FFFE.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class FeedQuery:
    """What the caller asked for: validated and normalised (app.api.routes.feed)."""

    author_id: int | None = None
    tag: str | None = None

    def query_string(self) -> str:
        params = {"author_id": self.author_id, "tag": self.tag}
        query = urlencode({name: value for name, value in params.items() if value is not None})
        return f"?{query}" if query else ""


def newest_public(session: Session, query: FeedQuery) -> Sequence[Row[Any]]:
    """The FEED_SIZE newest public posts matching `query`, with their authors, newest first."""
    return newest_rows(session, limit=FEED_SIZE, author_id=query.author_id, tag=query.tag)


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _tag_authority(frontend_url: str) -> str:
    # A tag: URI names a domain (RFC 4151), no port; localhost in development is fine.
    return urlsplit(frontend_url).hostname or "localhost"


def entry_id(frontend_url: str, post_id: int, created_at: datetime) -> str:
    """Stable for the post's life: a slug or title edit does not make readers see a new entry."""
    return f"tag:{_tag_authority(frontend_url)},{created_at:%Y-%m-%d}:posts/{post_id}"


def render(
    rows: Sequence[Row[Any]],
    query: FeedQuery,
    *,
    title: str,
    frontend_url: str,
    self_url: str,
) -> bytes:
    """The Atom 1.0 document for `rows` (newest first), as UTF-8 bytes."""
    frontend = frontend_url.rstrip("/")
    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(_feed_title(title, query, rows))
    feed.link(href=self_url, rel="self", type=MEDIA_TYPE)
    feed.link(href=frontend + "/", rel="alternate", type="text/html")
    feed.generator("Quill")  # not feedgen's default, which carries its version
    feed.updated(max((row.updated_at for row in rows), default=EPOCH))
    for row in rows:
        entry = feed.add_entry(order="append")
        entry.id(entry_id(frontend, row.id, row.created_at))
        entry.title(_xml(row.title))
        entry.link(href=f"{frontend}/posts/{row.slug}", rel="alternate", type="text/html")
        entry.published(row.published_at)
        entry.updated(row.updated_at)
        entry.author({"name": _xml(row.author__name)})
        entry.summary(_xml(row.excerpt))
        entry.content(_xml(row.content_html), type="html")
        for name in row.tags or ():
            entry.category(term=name)
    document: bytes = feed.atom_str(pretty=False)
    return document


def _feed_title(title: str, query: FeedQuery, rows: Sequence[Row[Any]]) -> str:
    if query.author_id is not None and rows:
        title = f"{title}: {rows[0].author__name}"
    if query.tag is not None:
        title = f"{title}: #{query.tag}"
    return _xml(title)


def atom_feed(
    session: Session, query: FeedQuery, *, title: str, frontend_url: str, self_url: str
) -> bytes:
    """Query and render in one call, for one trip to a worker thread."""
    rows = newest_public(session, query)
    return render(rows, query, title=title, frontend_url=frontend_url, self_url=self_url)
