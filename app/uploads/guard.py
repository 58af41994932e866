"""What the transaction that stores an upload's rows checks first: the owner and the target still
exist, and the owner's quota holds.

An upload streams in, and is decoded, with no transaction open, so the account or post it is for
can be deleted meanwhile. The transaction that inserts its rows therefore starts by locking the
owner's row (and the post's, for a cover) and reading them afresh: a vanished account is 401, a
vanished post 404, never a foreign-key or stale-data error. The same lock serialises one user's
uploads, so the quota is summed and checked with no other upload of theirs in between: two
uploads at once cannot both pass on the same headroom.
"""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.database import LOCKS
from app.core.errors import NotAuthenticatedError, NotFoundError
from app.posts.models import Post
from app.uploads.errors import QuotaExceededError
from app.uploads.models import Upload
from app.users.models import User

MIB = 1024 * 1024


class AccountGoneError(NotAuthenticatedError):
    message = "The account no longer exists"


def _locked(session: Session, model: type[User] | type[Post], row_id: int) -> User | Post | None:
    # FOR NO KEY UPDATE on PostgreSQL (plain FOR UPDATE elsewhere): it excludes other uploads and
    # deletes of the row, but not inserts elsewhere that merely reference it (new posts, tokens).
    # populate_existing: the caller's loaded object is refreshed, so what it read before the
    # upload streamed in (an old avatar name) is current again.
    stmt = (
        select(model)
        .where(model.id == row_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True, **{LOCKS: True})
    )
    return session.scalar(stmt)


def lock_owner(session: Session, owner: User) -> None:
    """Lock the owner's row for the rest of the transaction; 401 if the account is gone."""
    if _locked(session, User, owner.id) is None:
        raise AccountGoneError()


def lock_post(session: Session, post: Post) -> None:
    """Lock the post's row for the rest of the transaction; 404 if it is gone."""
    if _locked(session, Post, post.id) is None:
        raise NotFoundError("Post not found")


def stored_bytes(session: Session, owner_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Upload.size), 0)).where(Upload.owner_id == owner_id)
    )
    return int(total or 0)


def check_quota(session: Session, owner_id: int, *, adding: int, freeing: int = 0) -> None:
    """413 QUOTA_EXCEEDED if the owner's files, plus `adding` less `freeing`, pass the quota.
    Call with the owner's row locked (`lock_owner`)."""
    quota = get_settings().upload_quota_bytes
    used = stored_bytes(session, owner_id)
    if used - freeing + adding > quota:
        raise QuotaExceededError(
            f"Your files would take {(used - freeing + adding) / MIB:.1f} MiB, more than your "
            f"{quota / MIB:g} MiB quota"
        )


def size_of(session: Session, filename: str | None) -> int:
    if not filename:
        return 0
    return int(session.scalar(select(Upload.size).where(Upload.filename == filename)) or 0)
