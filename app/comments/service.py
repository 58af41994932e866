"""Comments: a post's page of them, writing, changing and deleting one, and the posts' counters.

`posts.comment_count` is what every post answer shows, so no list counts comments. Every write
that adds or removes a comment moves the counter in the same transaction, with an atomic
`comment_count = comment_count ± 1` (never a value read earlier, which concurrent writers would
overwrite). The post's row is written first, before the comment's: the same order as a post's
deletion (post, then its comments by cascade), so the two cannot deadlock, and the row lock makes
concurrent writers on one post take turns.
"""

from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, CursorResult, Row, Table, Update, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.comments.models import Comment
from app.comments.schemas import CommentCreate, CommentPublic, CommentUpdate
from app.core.database import locking
from app.core.errors import NotFoundError, PermissionDeniedError
from app.core.models import utcnow
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.posts import public
from app.posts.models import Post
from app.posts.service import POST_NOT_FOUND
from app.uploads.guard import AccountGoneError
from app.users.models import User

# Tables, for Core statements: a page is rows, and counters are one UPDATE each.
COMMENTS, POSTS = cast(Table, Comment.__table__), cast(Table, Post.__table__)
USERS = public.USERS
COMMENT_NOT_FOUND = "Comment not found"

COMMENT_COLUMNS = (
    COMMENTS.c.id,
    COMMENTS.c.post_id,
    COMMENTS.c.body,
    COMMENTS.c.created_at,
    COMMENTS.c.updated_at,
)

Action = Literal["edit", "delete"]


def visible_to(viewer: User | None) -> ColumnElement[bool]:
    """The posts `viewer` may see, in SQL: public ones, and their own (drafts and scheduled)."""
    rule = public.is_public()
    return rule if viewer is None else rule | (POSTS.c.author_id == viewer.id)


def _comment(row: Row[Any]) -> CommentPublic:
    comment = row._mapping
    return CommentPublic(
        id=comment["id"],
        post_id=comment["post_id"],
        body=comment["body"],
        created_at=comment["created_at"],
        updated_at=comment["updated_at"],
        author=public.author_of(row),
    )


def list_comments(
    session: Session, *, post_id: int, viewer: User | None, params: PageParams
) -> Page[CommentPublic]:
    """A page of a post's comments with their authors, oldest first (ties by id): one statement
    for the post, one for the page (authors joined), one to count when the page is not all."""
    visible = session.scalar(select(POSTS.c.id).where(POSTS.c.id == post_id, visible_to(viewer)))
    if visible is None:
        raise NotFoundError(POST_NOT_FOUND)
    rows = (
        select(*COMMENT_COLUMNS, *public.AUTHOR_COLUMNS)
        .select_from(COMMENTS.join(USERS, USERS.c.id == COMMENTS.c.author_id))
        .where(COMMENTS.c.post_id == post_id)
        .order_by(COMMENTS.c.created_at, COMMENTS.c.id)
    )
    counted = select(COMMENTS.c.id).where(COMMENTS.c.post_id == post_id)
    return paginate(session, rows, params, transform=_comment, count=counted)


def _rows(result: Any) -> int:
    """How many rows a Core UPDATE or DELETE touched."""
    return cast(CursorResult[Any], result).rowcount


def _count(post_id: int, delta: int) -> Update:
    return (
        update(POSTS)
        .where(POSTS.c.id == post_id)
        .values(comment_count=POSTS.c.comment_count + delta)
    )


def create_comment(session: Session, *, post_id: int, author: User, data: CommentCreate) -> Comment:
    """A new comment on a post `author` may see (else 404).

    The visibility check is the counter's own UPDATE: it and the insert are one transaction
    holding the post's row, so a post deleted or unpublished meanwhile gets no comment."""
    bumped = session.execute(_count(post_id, +1).where(visible_to(author)))
    if _rows(bumped) != 1:
        session.rollback()
        raise NotFoundError(POST_NOT_FOUND)
    # One instant for both: a comment never edited shows updated_at == created_at.
    now = utcnow()
    comment = Comment(
        post_id=post_id, author_id=author.id, body=data.body, created_at=now, updated_at=now
    )
    comment.author = author
    session.add(comment)
    try:
        session.commit()
    except IntegrityError as exc:
        # The post's row is held, so the missing row is the author's: the account was deleted
        # while this request ran.
        session.rollback()
        raise AccountGoneError() from exc
    return comment


def get_for_change(session: Session, *, comment_id: int, user: User, action: Action) -> Comment:
    """A comment `user` may edit (its author) or delete (its author, the post's author, an
    admin). A comment on a post `user` cannot see is 404, admins included, as the post is."""
    found = session.execute(
        select(Comment, POSTS.c.author_id)
        .join(POSTS, POSTS.c.id == Comment.post_id)
        .options(joinedload(Comment.author))
        .where(Comment.id == comment_id, visible_to(user))
    ).first()
    if found is None:
        raise NotFoundError(COMMENT_NOT_FOUND)
    comment: Comment = found[0]
    post_author_id: int = found[1]
    if comment.author_id == user.id:
        return comment
    if action == "delete" and (user.id == post_author_id or user.is_admin):
        return comment
    if action == "edit":
        raise PermissionDeniedError("Only its author can edit a comment")
    raise PermissionDeniedError("Only its author, the post's author or an admin can delete this")


def update_comment(session: Session, *, comment: Comment, data: CommentUpdate) -> Comment:
    comment.body = data.body
    # Set, not left to `onupdate`: the same text again writes nothing, yet was an edit.
    comment.updated_at = utcnow()
    try:
        session.commit()
    except StaleDataError as exc:  # deleted since it was read
        session.rollback()
        raise NotFoundError(COMMENT_NOT_FOUND) from exc
    return comment


def delete_comment(session: Session, *, comment: Comment) -> None:
    session.execute(_count(comment.post_id, -1))
    gone = session.execute(delete(COMMENTS).where(COMMENTS.c.id == comment.id))
    if _rows(gone) != 1:  # deleted since it was read: its delete took it off the count
        session.rollback()
        raise NotFoundError(COMMENT_NOT_FOUND)
    session.commit()


def uncount_author(session: Session, *, author_id: int) -> None:
    """Before an account's deletion cascades to its comments: take them off the counts of other
    users' posts (its own posts go with it), in one UPDATE, in the deletion's transaction.

    Takes the account's row (FOR UPDATE: no new comment of theirs can commit until the deletion
    does) and their comments' rows (none can be deleted by someone else in between), so the
    counts subtracted are the comments the cascade removes."""
    session.execute(locking(select(USERS.c.id).where(USERS.c.id == author_id)))
    session.execute(locking(select(COMMENTS.c.id).where(COMMENTS.c.author_id == author_id))).all()
    theirs = (
        select(func.count())
        .select_from(COMMENTS)
        .where(COMMENTS.c.post_id == POSTS.c.id, COMMENTS.c.author_id == author_id)
        .scalar_subquery()
    )
    commented = select(COMMENTS.c.post_id).where(COMMENTS.c.author_id == author_id)
    session.execute(
        update(POSTS)
        .where(POSTS.c.id.in_(commented), POSTS.c.author_id != author_id)
        .values(comment_count=POSTS.c.comment_count - theirs)
    )
