"""SQLAlchemy models. Tables only: API shapes live in app/schemas.py."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.storage import get_storage, public_url

# Stable constraint names, so migrations can drop/alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend.

    PostgreSQL stores `timestamptz`; SQLite and MySQL have no zone, so values are stored as naive
    UTC and handed back with `tzinfo=UTC`. MySQL gets microseconds (`DATETIME(6)`) so that
    ordering by time has the same resolution everywhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Emails compare byte for byte on every backend (they are stored NFC and lower-cased): MySQL's
# default collations would make `xé@` and `xe@` one address there and two elsewhere.
EmailColumn = String(254).with_variant(
    mysql.VARCHAR(254, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def new_uid() -> str:
    return uuid.uuid4().hex


# Tables whose ids leave the server: on SQLite, AUTOINCREMENT, so a deleted row's id is never
# handed to a new row (migration 0006). PostgreSQL and MariaDB never reuse ids anyway.
NO_ID_REUSE = {"sqlite_autoincrement": True}


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = NO_ID_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    # Never reused, unlike an id could be: every token names it, so nothing issued to an account
    # can work for another one that later gets the same id.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    # Stored NFC and lower-cased; the unique index then makes it unique case-insensitively
    # everywhere.
    email: Mapped[str] = mapped_column(EmailColumn, unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(100))
    bio: Mapped[str | None] = mapped_column(Text, default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    email_verified: Mapped[bool] = mapped_column(default=False)
    # Every token carries the version it was issued under; bumping it (password change or reset)
    # ends every session at once.
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # The stored name of the avatar's file (its `uploads` row has kind "avatar").
    avatar_name: Mapped[str | None] = mapped_column(String(80), default=None)

    @property
    def avatar_url(self) -> str | None:
        return public_url(self.avatar_name)


class LoginSession(Base):
    """One login and the refresh tokens rotated from it. Access tokens name it (`sid`), so ending
    it (logout, replayed refresh token, new password) ends them at once, not at their expiry."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_uid)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RefreshToken(Base):
    """A refresh token, stored as a digest. Rotation marks it used and issues the next one in the
    same family; presenting a used one again revokes the family (it was stolen or replayed)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The family is the session it was issued to.
    family_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = NO_ID_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class MailSlot(Base):
    """One of an address's hourly mail slots (app/services/mail_throttle.py). The address is kept
    as a keyed digest, never in clear."""

    __tablename__ = "mail_slots"
    __table_args__ = (UniqueConstraint("address_digest", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address_digest: Mapped[str] = mapped_column(String(64))
    slot: Mapped[int] = mapped_column()
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """One row per login attempt; lockout counts these so it holds across workers."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_created_at", "email", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(EmailColumn)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    # None while the password check runs: it holds a lockout slot until it is settled.
    succeeded: Mapped[bool | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginThrottle(Base):
    """One row per email ever tried at login, locked while a login counts that email's recent
    attempts and reserves a password check, so concurrent logins cannot all pass the count."""

    __tablename__ = "login_throttles"

    email: Mapped[str] = mapped_column(EmailColumn, primary_key=True)


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
    cover_name: Mapped[str | None] = mapped_column(String(80), default=None)

    @property
    def cover_image_url(self) -> str | None:
        return public_url(self.cover_name)

    # lazy="raise": an author must be loaded in the list query itself, never one query per post.
    author: Mapped[User] = relationship(lazy="raise")


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
