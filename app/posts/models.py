"""The posts table and its tags."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import NO_ID_REUSE, Base, TimestampMixin, UTCDateTime
from app.uploads.models import file_name_column
from app.uploads.storage import public_url
from app.users.models import User

# MySQL's TEXT holds 65,535 bytes; 100,000 four-byte characters need MEDIUMTEXT there.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

# Tag names compare byte for byte on every backend, as emails do: MySQL's default collation
# would make `café` and `cafe` one tag there and two elsewhere.
TagName = String(40).with_variant(
    mysql.VARCHAR(40, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


class Post(TimestampMixin, Base):
    __tablename__ = "posts"
    # The list queries: published posts newest first (all, and one author's: read as a range of
    # these indexes alone, app/posts/public.py), and one author's posts newest first (/posts/my).
    __table_args__ = (
        Index("ix_posts_published_published_at_id", "published", "published_at", "id"),
        Index(
            "ix_posts_author_id_published_published_at",
            "author_id",
            "published",
            "published_at",
            "id",
        ),
        Index("ix_posts_author_id_created_at", "author_id", "created_at"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(LongText)
    # Rendered and sanitised when the post is written (app/posts/markdown.py), never on a read.
    content_html: Mapped[str] = mapped_column(LongText)
    excerpt: Mapped[str] = mapped_column(String(300))
    reading_time_minutes: Mapped[int] = mapped_column(default=1)
    # The names, as the answer shows them: read with the post, no join. post_tags holds the same
    # names for the queries by tag, written in the same transaction.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(default=False)
    # Null for a draft; in the future for a scheduled post, which is public only from then on.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Kept by every comment write in its own transaction: a list never counts comments.
    comment_count: Mapped[int] = mapped_column(default=0, server_default="0")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The stored name of the cover's file (its `uploads` row has kind "cover").
    cover_name: Mapped[str | None] = file_name_column()

    @property
    def cover_image_url(self) -> str | None:
        return public_url(self.cover_name)

    # lazy="raise": an author must be loaded in the list query itself, never one query per post.
    author: Mapped[User] = relationship(lazy="raise")


class PostTag(Base):
    """One tag of one post: what GET /posts?tag= and GET /tags query."""

    __tablename__ = "post_tags"
    __table_args__ = (
        Index("ix_post_tags_name_post_id", "name", "post_id"),
        Index("ix_post_tags_name_published_at_post_id", "name", "published_at", "post_id"),
    )

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(TagName, primary_key=True)
    # The post's published_at while it is published, else null (kept by app/posts/counts.py):
    # one tag's public posts, newest first, are then one range of an index of this table.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class PostCount(Base):
    """One shard of a public list's post counter (app/posts/counts.py): `kind` "all" (key ""),
    "author" (key: the author's id) or "tag" (key: the tag name)."""

    __tablename__ = "post_counts"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(TagName, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class PostSchedule(Base):
    """A published post not yet counted, because it was scheduled for later when last written
    (app/posts/counts.py); `published_at` and `author_id` copy the post's."""

    __tablename__ = "post_schedule"
    __table_args__ = (Index("ix_post_schedule_published_at", "published_at", "author_id"),)

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author_id: Mapped[int]


class PublicVersion(Base):
    """One shard of the public change counter (app/posts/changes.py): the version is the sum."""

    __tablename__ = "public_version"

    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
