"""Per-user API keys: shown once, stored as a digest, recognisable by a visible prefix."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.errors import InvalidTokenError
from app.auth.models import ApiKey
from app.core.errors import NotFoundError
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.core.security import digest, new_api_key
from app.users.models import User

Item = TypeVar("Item")

# Recording every use would turn each authenticated read into a write; a minute's resolution is
# what "last used" needs.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewApiKey:
    """A key just made: its row, and the key itself, which exists nowhere else (only its digest
    is stored), so this is the one chance to show it."""

    row: ApiKey
    key: str


def create_key(session: Session, *, user: User, name: str) -> NewApiKey:
    key, prefix, key_digest = new_api_key()
    row = ApiKey(user_id=user.id, name=name, prefix=prefix, key_digest=key_digest)
    session.add(row)
    session.commit()
    return NewApiKey(row=row, key=key)


def list_keys(
    session: Session, *, user: User, params: PageParams, shape: Callable[[ApiKey], Item]
) -> Page[Item]:
    """A page of the user's keys, newest first, each as `shape` makes it (the response model)."""
    stmt = (
        select(ApiKey)
        .where(ApiKey.user_id == user.id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return paginate(session, stmt, params, transform=shape)


def revoke_key(session: Session, *, user: User, key_id: int) -> None:
    row = session.get(ApiKey, key_id)
    # Another user's key is answered like a missing one: its existence is not the caller's business.
    if row is None or row.user_id != user.id:
        raise NotFoundError("API key not found")
    session.delete(row)
    session.commit()


def user_for_key(session: Session, *, key: str) -> User:
    # One statement; a key dies with its account (ON DELETE CASCADE), so it can never name
    # another account that later gets the same id.
    found = session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_digest == digest(key))
    ).one_or_none()
    if found is None:
        raise InvalidTokenError("Invalid API key")
    row, user = found
    now = datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.commit()
    return user
