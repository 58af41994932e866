"""The uploads table: one row per stored file."""

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import NO_ID_REUSE, Base, UTCDateTime, utcnow
from app.uploads.storage import get_storage


class Upload(Base):
    """One stored file. Every file on disk has exactly one row, and every row its file."""

    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_owner_id_kind_created_at", "owner_id", "kind", "created_at"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # "upload" (the /uploads API), "avatar" or "cover".
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(80), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def url(self) -> str:
        return get_storage().url(self.filename)
