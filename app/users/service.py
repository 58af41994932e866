"""Users: creation, lookup, profile changes, deletion. Plain functions over a Session, keyword-only
past it, returning domain objects; what follows an event (mail) is the `hooks`' business
(app/users/hooks.py). Avatars: app/users/avatars.py."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.models import ApiKey, LoginSession
from app.comments import service as comments
from app.core.errors import FieldRejectedError, NotFoundError
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.core.security import hash_password, verify_password
from app.core.text import normalize_email
from app.uploads import guard as upload_guard
from app.uploads import service as uploads
from app.uploads.storage import Storage
from app.users.errors import EmailTakenError, ReauthRequiredError, WrongPasswordError
from app.users.hooks import AccountHooks
from app.users.models import User
from app.users.schemas import UserCreate, UserUpdate, password_is_email

Item = TypeVar("Item")


def get_by_email(session: Session, *, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("User not found")
    return user


def create_user(
    session: Session,
    *,
    data: UserCreate,
    is_admin: bool = False,
    hooks: AccountHooks | None = None,
) -> User:
    """A new account; `hooks` hear of it in its transaction (the welcome mail)."""
    hashed = hash_password(data.password)
    user = User(email=data.email, hashed_password=hashed, name=data.name, is_admin=is_admin)
    session.add(user)
    if hooks is not None:
        hooks.on_after_register(user)
    try:
        session.commit()
    except IntegrityError as exc:
        # The unique index decides, so two simultaneous registrations cannot both succeed.
        # The rollback takes what the hooks recorded with it: no welcome for a refused account.
        session.rollback()
        raise EmailTakenError() from exc
    return user


def register(session: Session, *, data: UserCreate, hooks: AccountHooks) -> User:
    """Sign-up: a new account, reported to `hooks` (the welcome mail)."""
    return create_user(session, data=data, hooks=hooks)


def list_users(
    session: Session, *, params: PageParams, shape: Callable[[User], Item]
) -> Page[Item]:
    """A page of users, newest first, each as `shape` makes it (the router's response model)."""
    stmt = select(User).order_by(User.created_at.desc(), User.id.desc())
    return paginate(session, stmt, params, transform=shape)


def update_profile(session: Session, *, user: User, data: UserUpdate, hooks: AccountHooks) -> User:
    """Apply a profile change; an email change is reported to `hooks` in its transaction.

    The caller (the route) has already refused API keys for an email change."""
    changes = data.model_dump(exclude_unset=True)
    current_password = changes.pop("current_password", None)
    old_email = user.email
    changes_email = "email" in changes and changes["email"] != old_email
    if changes_email:
        # A stolen access token alone must not be able to move the account to another address.
        if current_password is None:
            raise ReauthRequiredError()
        ok, _ = verify_password(current_password, user.hashed_password)
        if not ok:
            raise WrongPasswordError()
        user.email_verified = False
    else:
        changes.pop("email", None)
    for field, value in changes.items():
        setattr(user, field, value)
    if changes_email:
        # In the change's transaction: the mails exist exactly when the change commits.
        hooks.on_after_email_change(user, old_email=old_email)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise EmailTakenError("Email already taken") from exc
    return user


def set_password(session: Session, *, user: User, new_password: str) -> None:
    """Store a new password and rotate every credential with it: every session ends and every API
    key is revoked (whoever had the old password may have made some)."""
    if password_is_email(new_password, user.email):
        raise FieldRejectedError(
            ("body", "new_password"), "password_equals_email", "password must not be the email"
        )
    user.hashed_password = hash_password(new_password)
    user.token_version += 1
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    session.execute(delete(ApiKey).where(ApiKey.user_id == user.id))
    session.commit()


def change_password(session: Session, *, user: User, current: str, new: str) -> None:
    ok, _ = verify_password(current, user.hashed_password)
    if not ok:
        raise WrongPasswordError()
    set_password(session, user=user, new_password=new)


def delete_user(session: Session, *, storage: Storage, user: User) -> None:
    """Delete the user and, through ON DELETE CASCADE, everything of theirs, in one transaction;
    then their files, once nothing refers to them any more."""
    # Lock the row first, as an upload's transaction does: an upload committing between reading
    # the names and the delete would otherwise leave its file behind, with no row.
    upload_guard.lock_owner(session, owner_id=user.id)
    # Their comments leave other users' posts: those posts' counters must drop with them.
    comments.uncount_author(session, author_id=user.id)
    files = uploads.owned_file_names(session, user.id)
    session.delete(user)
    session.commit()
    uploads.remove_files(storage, files)
