"""Deleting a post whose cover was set after the post was loaded removes that cover too.

Two real sessions on the test database: the post is loaded in one, a cover is committed from the
other (as a cover upload finishing meanwhile would), then the first deletes the post. Without the
row lock and fresh read in `posts.delete_post`, the cover's file stayed on disk with no row.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.posts import service as posts
from app.posts.models import Post
from app.uploads.models import Upload
from app.uploads.storage import new_name
from tests.utils.db import committed_user
from tests.utils.files import StoreView
from tests.utils.posts import post_row


@pytest.fixture
def committed_post(session_factory, password_hash: str) -> Iterator[int]:
    email = "delete-race@example.com"
    with committed_user(session_factory, email=email, hashed_password=password_hash) as user:
        with session_factory() as session:
            post = post_row(user.id)
            session.add(post)
            session.commit()
            post_id = post.id
        yield post_id


def test_cover_set_after_loading_is_removed_with_the_post(
    committed_post: int, session_factory, storage
) -> None:
    with session_factory() as deleting:
        stale = deleting.get(Post, committed_post)
        assert stale is not None and stale.cover_name is None
        deleting.commit()  # nothing held: the cover lands in between, as an upload would

        name = new_name(".png")
        (StoreView(storage) / name).write_bytes(b"cover bytes")
        with session_factory() as uploading:
            post = uploading.get(Post, committed_post)
            assert post is not None
            uploading.add(
                Upload(
                    owner_id=post.author_id,
                    kind="cover",
                    filename=name,
                    original_name="c.png",
                    content_type="image/png",
                    size=11,
                    sha256="0" * 64,
                )
            )
            post.cover_name = name
            uploading.commit()

        posts.delete_post(deleting, storage=storage, post=stale)

    assert not storage.exists(name)
    with session_factory() as check:
        assert check.scalar(select(Upload).where(Upload.filename == name)) is None
        assert check.get(Post, committed_post) is None
