"""Changing a post that another request deleted after this one loaded it answers 404, not 500.

Two real sessions on the test database: the post is loaded in one and deleted from the other, as
a DELETE finishing while a PATCH is under way would (schemathesis found the 500 with two workers).
"""

import pytest
from sqlalchemy import select

from app.core.errors import NotFoundError
from app.posts import service as posts
from app.posts.models import Post
from app.posts.schemas import PostUpdate
from tests.utils.db import committed_user
from tests.utils.posts import post_row


def test_changing_a_post_deleted_meanwhile_is_not_found(
    session_factory, password_hash: str
) -> None:
    email = "update-race@example.com"
    with committed_user(session_factory, email=email, hashed_password=password_hash) as user:
        with session_factory() as session:
            post = post_row(user.id)
            session.add(post)
            session.commit()
            post_id = post.id
        with session_factory() as changing:
            stale = changing.get(Post, post_id)
            assert stale is not None
            changing.commit()  # nothing held: the delete lands in between
            with session_factory() as deleting:
                gone = deleting.get(Post, post_id)
                deleting.delete(gone)
                deleting.commit()
            with pytest.raises(NotFoundError):
                posts.update_post(changing, post=stale, data=PostUpdate(title="A better title"))
            # The session is usable again, and nothing came back.
            assert changing.scalar(select(Post.id).where(Post.id == post_id)) is None
