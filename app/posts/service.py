"""Posts: drafts private to their author, ownership, a post's changes and deletion.

The public list is app/posts/public.py, the cover app/posts/covers.py.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import NotFoundError, PermissionDeniedError
from app.core.models import utcnow
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.posts.markdown import render
from app.posts.models import Post, PostTag
from app.posts.public import newest_first
from app.posts.schemas import PostCreate, PostUpdate
from app.posts.slug_claims import change_slug, insert_with_slug
from app.posts.slugs import is_slug
from app.uploads import guard
from app.uploads import service as uploads
from app.uploads.storage import Storage
from app.users.models import User

POST_NOT_FOUND = "Post not found"


def _set_content(post: Post, content: str) -> None:
    rendered = render(content)
    post.content = content
    post.content_html = rendered.html
    post.excerpt = rendered.excerpt
    post.reading_time_minutes = rendered.reading_time_minutes


def _set_tags(session: Session, post: Post, names: list[str]) -> None:
    """`names` as the schema leaves them: normalised, without duplicates (schemas.Tags)."""
    if post.id is not None and list(names) == post.tags:
        return
    post.tags = list(names)
    if post.id is not None:
        session.execute(delete(PostTag).where(PostTag.post_id == post.id))
    session.add_all(PostTag(post_id=post.id, name=name) for name in post.tags)


def _set_publication(post: Post, published: bool, published_at: datetime | None) -> None:
    """Publishing without a time is now; publishing what is already published keeps its time
    (a PATCH `published: true` does not move a post up the list); unpublishing makes a draft."""
    post.published = published
    post.published_at = (published_at or post.published_at or utcnow()) if published else None


def new_post(
    *,
    author_id: int,
    slug: str,
    title: str,
    content: str,
    published: bool = False,
    published_at: datetime | None = None,
) -> Post:
    """A post with its derived fields (HTML, excerpt, reading time, publication) filled in, not
    yet added to a session; its tags are set once it has an id."""
    post = Post(author_id=author_id, slug=slug, title=title, tags=[])
    _set_content(post, content)
    _set_publication(post, published, published_at)
    return post


def create_post(session: Session, *, author: User, data: PostCreate) -> Post:
    post = new_post(
        author_id=author.id,
        slug="",  # claimed by insert_with_slug
        title=data.title,
        content=data.content,
        published=data.published,
        published_at=data.published_at,
    )
    insert_with_slug(session, post, title=data.title, wanted=data.slug)
    _set_tags(session, post, data.tags)
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


def is_public(post: Post) -> bool:
    return post.published and post.published_at is not None and post.published_at <= utcnow()


def _visible_to(post: Post, viewer: User | None) -> bool:
    """The one rule for reads and changes alike: a draft or a scheduled post exists only for its
    author."""
    return is_public(post) or (viewer is not None and viewer.id == post.author_id)


def get_visible(session: Session, *, post_id: int, viewer: User | None) -> Post:
    """A post as `viewer` may see it: a draft exists only for its author (404 for anyone else)."""
    return _visible(session, Post.id == post_id, viewer)


def get_visible_by_slug(session: Session, *, slug: str, viewer: User | None) -> Post:
    """The same, found by slug. A string that is not slug-shaped names no post: 404 without a
    query."""
    if not is_slug(slug):
        raise NotFoundError(POST_NOT_FOUND)
    return _visible(session, Post.slug == slug, viewer)


def _visible(session: Session, where: ColumnElement[bool], viewer: User | None) -> Post:
    post = session.scalar(select(Post).options(joinedload(Post.author)).where(where))
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
    # Locked and read afresh first: a change computed from an older read would undo another
    # request's (tags rows rewritten while the tags column kept the other's, counters astray).
    lock_post(session, post)
    changes = data.model_dump(exclude_unset=True)
    if "title" in changes:
        post.title = changes["title"]
    if "slug" in changes:
        change_slug(session, post, changes["slug"])
    if "content" in changes:
        _set_content(post, changes["content"])
    if "tags" in changes:
        _set_tags(session, post, changes["tags"])
    if "published" in changes or "published_at" in changes:
        published = changes.get("published", post.published)
        _set_publication(post, published, changes.get("published_at"))
    try:
        session.commit()
    except StaleDataError:
        # Deleted by another request since this one loaded it: the UPDATE matched no row.
        session.rollback()
        raise NotFoundError(POST_NOT_FOUND) from None
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
