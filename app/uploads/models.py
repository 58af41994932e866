"""The uploads table: one row per stored file; and the column other tables hold a file's name in."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, MappedColumn, mapped_column

from app.core.models import NO_ID_REUSE, Base, UTCDateTime, utcnow
from app.uploads.storage import public_url

STORED_NAME_LENGTH = 80
# Marks a column, in any table, that holds a stored file's name (see `file_name_column`).
HOLDS_FILE = "quill_holds_file"


class UploadKind(StrEnum):
    """Why a file was stored: through /uploads, or as the one file a row holds."""

    UPLOAD = "upload"
    AVATAR = "avatar"
    COVER = "cover"


class Upload(Base):
    """One stored file. Every file on disk has exactly one row, and every row its file."""

    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_owner_id_kind_created_at", "owner_id", "kind", "created_at"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # An UploadKind; a plain string column, so a new kind needs no migration.
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(STORED_NAME_LENGTH), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def url(self) -> str:
        return public_url(self.filename)


def file_name_column(**kwargs: Any) -> MappedColumn[Any]:
    """A nullable column holding one stored file's name (a user's avatar, a post's cover); its
    `uploads` row has the matching kind. storage-check finds these columns by their mark, to let
    go of a name whose file is gone."""
    return mapped_column(
        String(STORED_NAME_LENGTH), default=None, info={HOLDS_FILE: True}, **kwargs
    )
