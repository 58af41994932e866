"""A user's avatar: one image, scaled to fit AVATAR_FIT, stored through app/uploads like any file
and counted against its owner's quota; the user row holds its name (`avatar_name`)."""

from sqlalchemy.orm import Session

from app.uploads import service as uploads
from app.uploads.multipart import ParsedForm
from app.uploads.storage import Storage
from app.users.models import User

# Shown small everywhere; the box keeps a phone photo from costing megabytes per page view.
AVATAR_FIT = (512, 512)


def set_avatar(session: Session, *, storage: Storage, user: User, form: ParsedForm) -> User:
    """Store the image in `form` as the user's avatar; the old one's row and file go."""
    # uploads' replace-one-file step, until it has a public one that takes the row's own lock and
    # setter instead of a model and an attribute name.
    uploads._replace_single(
        session, storage, user, form, uploads.KIND_AVATAR, AVATAR_FIT, user, "avatar_name"
    )
    return user


def remove_avatar(session: Session, *, storage: Storage, user: User) -> User:
    """Drop the avatar (a no-op without one); its file goes once the change is committed."""
    old = user.avatar_name
    if old is None:
        return user
    user.avatar_name = None
    uploads.delete_rows(session, [old])
    session.commit()
    uploads.remove_files(storage, [old])
    return user
