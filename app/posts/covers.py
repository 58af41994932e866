"""A post's cover: one image the post holds, stored through app/uploads like any file.

The post, not uploads, knows how it holds its cover: `cover_slot` hands uploads a way to lock the
post's row (404 if it was deleted while the image streamed in) and to point it at a new file.
The cover counts against its author's quota.
"""

from sqlalchemy.orm import Session

from app.posts.models import Post
from app.posts.service import lock_post
from app.uploads import service as uploads
from app.uploads.limits import UploadLimits
from app.uploads.models import UploadKind
from app.uploads.multipart import ParsedForm
from app.uploads.storage import Storage

COVER_FIT = (1920, 1920)


def cover_slot(post: Post) -> uploads.Slot:
    def lock(session: Session) -> str | None:
        lock_post(session, post)
        return post.cover_name

    def attach(name: str | None) -> None:
        post.cover_name = name

    return uploads.Slot(
        kind=UploadKind.COVER, owner_id=post.author_id, fit=COVER_FIT, lock=lock, attach=attach
    )


def set_cover(
    session: Session, *, storage: Storage, limits: UploadLimits, post: Post, form: ParsedForm
) -> Post:
    """Store the image in `form` as the post's cover (scaled to fit COVER_FIT), removing the old
    one's file once the change is committed."""
    uploads.replace_file(session, storage=storage, limits=limits, slot=cover_slot(post), form=form)
    return post
