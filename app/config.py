"""Settings: the one place environment variables (and `.env`) are read."""

import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32
# Keys that ship in examples and tutorials; a production deployment using one is misconfigured.
KNOWN_WEAK_SECRETS = {"changethis", "change-me", "secret", "changeme", "your-secret-key"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///./quill.db"
    # None means "generate one for this run" in development; production refuses it.
    secret_key: str | None = None

    access_token_expire_minutes: int = Field(30, ge=1)
    refresh_token_expire_days: int = Field(14, ge=1)

    cors_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]

    upload_dir: Path = Path("uploads")
    max_upload_bytes: int = Field(5 * 1024 * 1024, ge=1)
    # JSON bodies are small; anything larger is refused before it is read whole.
    max_json_body_bytes: int = Field(1024 * 1024, ge=1)
    # What one user's stored files (uploads, avatar, covers) may add up to: a disk is finite.
    upload_quota_bytes: int = Field(1024 * 1024 * 1024, ge=1)
    # Images decoded at once; each may take ~120 MB, so many at once could exhaust memory.
    # None: the number of cores this process may run on.
    image_decode_concurrency: int | None = Field(None, ge=1)

    request_log_file: Path = Path("requests.log")
    login_log_file: Path = Path("login_log.txt")

    login_max_failures: int = Field(5, ge=1)
    login_lockout_minutes: int = Field(15, ge=1)

    # Mails one address may get an hour from forgot-password and verify-email/request, so the
    # server cannot be used to flood someone's inbox.
    mail_per_address_per_hour: int = Field(3, ge=1)

    mail_backend: Literal["console", "file", "smtp"] = "console"
    mail_dir: Path = Path("mail")
    mail_from: str = "Quill <no-reply@localhost>"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False

    frontend_url: str = "http://localhost:3000"

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # Accept both `a,b` and a JSON list, as the contract promises.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _production_guards(self) -> "Settings":
        if self.environment == "production":
            key = self.secret_key or ""
            if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in KNOWN_WEAK_SECRETS:
                raise ValueError(
                    f"SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_KEY_LENGTH} characters when ENVIRONMENT=production"
                )
            if "*" in self.cors_origins:
                raise ValueError("CORS_ORIGINS may not contain '*' when ENVIRONMENT=production")
        elif not self.secret_key:
            # Tokens signed with it die with the process: fine for development only.
            self.secret_key = secrets.token_urlsafe(48)
        return self

    @property
    def signing_key(self) -> str:
        if not self.secret_key:  # the validator above always sets it; this guards misuse
            raise RuntimeError("SECRET_KEY is not set")
        return self.secret_key


def describe(error: ValidationError) -> str:
    """One line naming each bad setting, for an operator reading a failed start."""
    parts = []
    for item in error.errors():
        name = ".".join(str(p) for p in item["loc"]).upper()
        reason = item["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {reason}" if name else reason)
    return "invalid settings: " + "; ".join(parts)


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # A one-line reason instead of a traceback; the process refuses to start.
        raise SystemExit(describe(exc)) from None
