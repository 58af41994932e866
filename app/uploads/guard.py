"""What the transaction that stores an upload's rows checks first: the owner and the row the file
is for still exist, and the owner's quota holds.

An upload streams in, and is decoded, with no transaction open, so the account or post it is for
can be deleted meanwhile. The transaction that inserts its rows therefore starts by locking the
owner's row (and the row that will hold the file, through `lock_row`, for an avatar or a cover)
and reading them afresh: a vanished account is 401, a vanished post 404, never a foreign-key or
stale-data error. The same lock serialises one owner's uploads, so the quota is summed and
checked with no other upload of theirs in between: two uploads at once cannot both pass on the
same headroom.
"""

from functools import cache

from sqlalchemy import Column, func, select
from sqlalchemy.orm import Session, object_mapper

from app.core.database import LOCKS
from app.core.errors import NotAuthenticatedError
from app.uploads.errors import QuotaExceededError
from app.uploads.models import Upload

MIB = 1024 * 1024


class AccountGoneError(NotAuthenticatedError):
    message = "The account no longer exists"


@cache
def _owner_key() -> Column[int]:
    # The owners' key is whatever uploads.owner_id references: uploads need not know the model.
    (foreign_key,) = Upload.__table__.c.owner_id.foreign_keys
    column: Column[int] = foreign_key.column
    return column


def lock_owner(session: Session, *, owner_id: int) -> None:
    """Lock the owner's row for the rest of the transaction; 401 if the account is gone.

    FOR NO KEY UPDATE on PostgreSQL (plain FOR UPDATE elsewhere): it excludes other uploads and
    deletes of the row, but not inserts elsewhere that merely reference it (new posts, tokens)."""
    key = _owner_key()
    stmt = (
        select(key)
        .where(key == owner_id)
        .with_for_update(key_share=True)
        .execution_options(**{LOCKS: True})
    )
    if session.scalar(stmt) is None:
        raise AccountGoneError()


def lock_row(session: Session, row: object) -> bool:
    """Lock a loaded ORM object's row as `lock_owner` does and refresh the object from it, so what
    was read before the upload streamed in (an old avatar or cover name) is current again.
    False if the row is gone; the row's own domain says what that means."""
    mapper = object_mapper(row)
    key = mapper.primary_key_from_instance(row)
    stmt = (
        select(mapper)
        .where(*(column == value for column, value in zip(mapper.primary_key, key, strict=True)))
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True, **{LOCKS: True})
    )
    return session.scalar(stmt) is not None


def stored_bytes(session: Session, owner_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Upload.size), 0)).where(Upload.owner_id == owner_id)
    )
    return int(total or 0)


def check_quota(
    session: Session, *, quota: int, owner_id: int, adding: int, freeing: int = 0
) -> None:
    """413 QUOTA_EXCEEDED if the owner's files, plus `adding` less `freeing`, pass `quota`
    (bytes: UPLOAD_QUOTA_BYTES). Call with the owner's row locked (`lock_owner`)."""
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
