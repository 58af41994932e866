"""The posts table."""

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import NO_ID_REUSE, Base, TimestampMixin
from app.uploads.models import file_name_column
from app.uploads.storage import public_url
from app.users.models import User


class Post(TimestampMixin, Base):
    __tablename__ = "posts"
    # The two list queries: published posts newest first, and one author's posts newest first.
    __table_args__ = (
        Index("ix_posts_published_created_at", "published", "created_at"),
        Index("ix_posts_author_id_created_at", "author_id", "created_at"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # MySQL's TEXT holds 65,535 bytes; 100,000 four-byte characters need MEDIUMTEXT there.
    content: Mapped[str] = mapped_column(
        Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
    )
    published: Mapped[bool] = mapped_column(default=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The stored name of the cover's file (its `uploads` row has kind "cover").
    cover_name: Mapped[str | None] = file_name_column()

    @property
    def cover_image_url(self) -> str | None:
        return public_url(self.cover_name)

    # lazy="raise": an author must be loaded in the list query itself, never one query per post.
    author: Mapped[User] = relationship(lazy="raise")
