"""Posts: drafts private to their author, ownership, a post's changes and deletion.

The public list is app/posts/public.py, the cover app/posts/covers.py.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.core.errors import NotFoundError, PermissionDeniedError
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.posts.models import Post
from app.posts.public import newest_first
from app.posts.schemas import PostCreate, PostUpdate
from app.uploads import guard
from app.uploads import service as uploads
from app.uploads.storage import Storage
from app.users.models import User

POST_NOT_FOUND = "Post not found"


def create_post(session: Session, *, author: User, data: PostCreate) -> Post:
    post = Post(author_id=author.id, **data.model_dump())
    session.add(post)
    session.commit()
    return post


def list_own(
    session: Session, *, author: User, params: PageParams, published: bool | None = None
) -> Page[Any]:
    """A page of the author's posts, drafts included, newest first, as `Post` objects."""
    stmt = select(Post).where(Post.author_id == author.id)
    if published is not None:
        stmt = stmt.where(Post.published.is_(published))
    return paginate(session, newest_first(stmt), params)


def _visible_to(post: Post, viewer: User | None) -> bool:
    """The one rule for reads and changes alike: a draft exists only for its author."""
    return post.published or (viewer is not None and viewer.id == post.author_id)


def get_visible(session: Session, *, post_id: int, viewer: User | None) -> Post:
    """A post as `viewer` may see it: a draft exists only for its author (404 for anyone else)."""
    post = session.scalar(select(Post).options(joinedload(Post.author)).where(Post.id == post_id))
    if post is None or not _visible_to(post, viewer):
        raise NotFoundError(POST_NOT_FOUND)
    return post


def get_for_change(session: Session, *, post_id: int, user: User, admin_ok: bool = True) -> Post:
    """A post `user` may change: its author, or an admin (when `admin_ok`) on a published post.
    Visibility comes first: someone else's draft is 404 to everyone, admins included, so a
    PATCH or DELETE can neither read nor publish nor remove what a GET would not show."""
    post = session.get(Post, post_id)
    if post is None or not _visible_to(post, user):
        raise NotFoundError(POST_NOT_FOUND)
    if post.author_id == user.id:
        return post
    if admin_ok and user.is_admin:
        return post
    raise PermissionDeniedError("Only the author can change this post")


def update_post(session: Session, *, post: Post, data: PostUpdate) -> Post:
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(post, field, value)
    session.commit()
    return post


def lock_post(session: Session, post: Post) -> None:
    """Lock the post's row for the rest of the transaction, read afresh; 404 if it is gone."""
    if not guard.lock_row(session, post):
        raise NotFoundError(POST_NOT_FOUND)


def delete_post(session: Session, *, storage: Storage, post: Post) -> None:
    # Locked and read afresh, as a cover upload does: a cover set since `post` was loaded is
    # removed too, not left on disk without its row.
    lock_post(session, post)
    cover = post.cover_name
    if cover:
        uploads.delete_rows(session, [cover])
    session.delete(post)
    session.commit()
    uploads.remove_files(storage, [cover])
