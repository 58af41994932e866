"""Sessions, refresh tokens, API keys and login attempts."""

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import NO_ID_REUSE, Base, EmailColumn, UTCDateTime, utcnow
from app.users.models import new_uid


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
