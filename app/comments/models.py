"""The comments table."""

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import NO_ID_REUSE, Base, TimestampMixin
from app.users.models import User


class Comment(TimestampMixin, Base):
    __tablename__ = "comments"
    __table_args__ = (
        # A post's comments, oldest first.
        Index("ix_comments_post_id_created_at", "post_id", "created_at"),
        # Deleting an account finds its comments (PostgreSQL indexes no foreign key by itself).
        Index("ix_comments_author_id", "author_id"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # At most 5,000 characters: 20,000 bytes, within MySQL's TEXT.
    body: Mapped[str] = mapped_column(Text)

    author: Mapped[User] = relationship(lazy="raise")
