"""Per-user API keys: shown once, stored as a digest, recognisable by a visible prefix."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.errors import InvalidTokenError
from app.auth.models import ApiKey
from app.auth.schemas import ApiKeyCreated, ApiKeyPublic
from app.core.errors import NotFoundError
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.core.security import digest, new_api_key
from app.users.models import User

# Recording every use would turn each authenticated read into a write; a minute's resolution is
# what "last used" needs.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_key(session: Session, user: User, name: str) -> ApiKeyCreated:
    key, prefix, key_digest = new_api_key()
    row = ApiKey(user_id=user.id, name=name, prefix=prefix, key_digest=key_digest)
    session.add(row)
    session.commit()
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=key)


def list_keys(session: Session, user: User, params: PageParams) -> Page[ApiKeyPublic]:
    stmt = (
        select(ApiKey)
        .where(ApiKey.user_id == user.id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return paginate(session, stmt, params, transform=ApiKeyPublic.model_validate)


def revoke_key(session: Session, user: User, key_id: int) -> None:
    row = session.get(ApiKey, key_id)
    # Another user's key is answered like a missing one: its existence is not the caller's business.
    if row is None or row.user_id != user.id:
        raise NotFoundError("API key not found")
    session.delete(row)
    session.commit()


def user_for_key(session: Session, key: str) -> User:
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
