"""Posts: drafts private to their author, ownership, search, pages in constant queries."""

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from app.errors import NotFoundError, PermissionDeniedError
from app.models import Post, User
from app.pagination import PageParams, paginate
from app.schemas import Page, PostCreate, PostPublic, PostUpdate, PostWithAuthor

POST_NOT_FOUND = "Post not found"


def _newest_first(stmt: Select[tuple[Post]]) -> Select[tuple[Post]]:
    # id breaks ties between posts created in the same microsecond, so pages never overlap.
    return stmt.order_by(Post.created_at.desc(), Post.id.desc())


def _matching(stmt: Select[tuple[Post]], q: str) -> Select[tuple[Post]]:
    """Case-insensitive substring over title and content; %, _ and the escape char are literal."""
    needle = q.lower()
    return stmt.where(
        or_(
            func.lower(Post.title).contains(needle, autoescape=True),
            func.lower(Post.content).contains(needle, autoescape=True),
        )
    )


def create_post(session: Session, author: User, data: PostCreate) -> Post:
    post = Post(author_id=author.id, **data.model_dump())
    session.add(post)
    session.commit()
    return post


def published_query(*, author_id: int | None = None, q: str | None = None) -> Select[tuple[Post]]:
    """The public list's statement, ordered; bench/ceiling.py runs it too, to compare like with
    like."""
    # joinedload: the authors come in the page query itself, one statement whatever per_page is.
    stmt = select(Post).options(joinedload(Post.author)).where(Post.published.is_(True))
    if author_id is not None:
        stmt = stmt.where(Post.author_id == author_id)
    if q:
        stmt = _matching(stmt, q)
    return _newest_first(stmt)


def list_published(
    session: Session, params: PageParams, *, author_id: int | None = None, q: str | None = None
) -> Page[PostWithAuthor]:
    stmt = published_query(author_id=author_id, q=q)
    return paginate(session, stmt, params, transform=PostWithAuthor.model_validate)


def list_own(
    session: Session, author: User, params: PageParams, *, published: bool | None = None
) -> Page[PostPublic]:
    stmt = select(Post).where(Post.author_id == author.id)
    if published is not None:
        stmt = stmt.where(Post.published.is_(published))
    return paginate(session, _newest_first(stmt), params, transform=PostPublic.model_validate)


def get_visible(session: Session, post_id: int, viewer: User | None) -> Post:
    """A post as `viewer` may see it: a draft exists only for its author (404 for anyone else)."""
    post = session.scalar(select(Post).options(joinedload(Post.author)).where(Post.id == post_id))
    if post is None or (not post.published and (viewer is None or viewer.id != post.author_id)):
        raise NotFoundError(POST_NOT_FOUND)
    return post


def get_for_change(session: Session, post_id: int, user: User, *, admin_ok: bool = True) -> Post:
    """A post `user` may change: its author, or an admin when `admin_ok`. Someone else's draft is
    404 (they cannot see it); someone else's published post is 403."""
    post = session.get(Post, post_id)
    if post is None:
        raise NotFoundError(POST_NOT_FOUND)
    if post.author_id == user.id or (admin_ok and user.is_admin):
        return post
    if not post.published:
        raise NotFoundError(POST_NOT_FOUND)
    raise PermissionDeniedError("Only the author can change this post")


def update_post(session: Session, post: Post, data: PostUpdate) -> Post:
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(post, field, value)
    session.commit()
    return post


def delete_post(session: Session, post: Post) -> None:
    session.delete(post)
    session.commit()
