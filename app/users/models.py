"""The users table."""

import uuid

from sqlalchemy import (
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import NO_ID_REUSE, Base, EmailColumn, TimestampMixin
from app.uploads.models import file_name_column
from app.uploads.storage import public_url


def new_uid() -> str:
    return uuid.uuid4().hex


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
    avatar_name: Mapped[str | None] = file_name_column()

    @property
    def avatar_url(self) -> str | None:
        return public_url(self.avatar_name)
