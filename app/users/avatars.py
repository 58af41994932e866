"""A user's avatar: one image, scaled to fit AVATAR_FIT, stored through app/uploads like any file
and counted against its owner's quota; the user row holds its name (`avatar_name`)."""

from sqlalchemy.orm import Session

from app.uploads import guard
from app.uploads import service as uploads
from app.uploads.limits import UploadLimits
from app.uploads.models import UploadKind
from app.uploads.multipart import ParsedForm
from app.uploads.storage import Storage
from app.users.models import User

# Shown small everywhere; the box keeps a phone photo from costing megabytes per page view.
AVATAR_FIT = (512, 512)


def avatar_slot(user: User) -> uploads.Slot:
    """The user's avatar as app/uploads sees it: the row to lock and the name it holds."""

    def lock(session: Session) -> str | None:
        if not guard.lock_row(session, user):
            raise guard.AccountGoneError()
        return user.avatar_name

    def attach(name: str | None) -> None:
        user.avatar_name = name

    return uploads.Slot(
        kind=UploadKind.AVATAR, owner_id=user.id, fit=AVATAR_FIT, lock=lock, attach=attach
    )


def set_avatar(
    session: Session, *, storage: Storage, limits: UploadLimits, user: User, form: ParsedForm
) -> User:
    """Store the image in `form` as the user's avatar; the old one's row and file go."""
    uploads.replace_file(session, storage=storage, limits=limits, slot=avatar_slot(user), form=form)
    return user


def remove_avatar(session: Session, *, storage: Storage, user: User) -> User:
    """Drop the avatar (a no-op without one); its file goes once the change is committed."""
    uploads.clear_file(session, storage=storage, slot=avatar_slot(user))
    return user
