"""Settings: the one place environment variables (and `.env`) are read."""

import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import (
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.secrets_file import development_key, weakness


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///./quill.db"
    # None: development keeps a generated key in DEV_SECRET_KEY_FILE; production refuses it.
    secret_key: str | None = None
    # Connect, statement and pool-checkout bound: a database that accepts but never answers must
    # give 503 within about this long instead of hanging every request.
    db_timeout_seconds: int = Field(5, ge=1, le=3600)
    # Connections each process keeps (no overflow: an overflow connection is opened and closed per
    # use). As many as its worker threads by default; processes x this must stay under the
    # database server's connection limit (PostgreSQL's default is 100).
    db_pool_size: int = Field(40, ge=1, le=1000)
    # Host header values served (`*.example.com` matches subdomains); "*" only in development.
    allowed_hosts: Annotated[list[str], NoDecode] = ["*"]
    # Peers whose X-Forwarded-For is believed (comma-separated IPs/networks); none by default, so
    # a client cannot pick its own address for the login log and rate limits.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = []

    # What several processes or machines share: the rate limits and the job queue.
    # redis://host:port/db, rediss:// (TLS) or unix:///path. Unset: each process counts its rate
    # limits on its own, and JOBS_BACKEND=redis is refused.
    redis_url: str | None = None

    # Requests one client address may make to /auth, and to the upload routes, in limits'
    # notation (`10/minute`; several joined by `;`). Off for test runs (RATE_LIMIT_ENABLED).
    rate_limit_enabled: bool = True
    rate_limit_auth: str = "10/minute"
    rate_limit_uploads: str = "30/minute"
    # Starts every rate-limit key in Redis, so deployments sharing one Redis count apart.
    rate_limit_key_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] = (
        "quill"
    )

    access_token_expire_minutes: int = Field(30, ge=1)
    refresh_token_expire_days: int = Field(14, ge=1)

    cors_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]
    # Request headers a browser may send cross-origin; one missing here fails the preflight.
    cors_allow_headers: Annotated[list[str], NoDecode] = [
        "Authorization",
        "Content-Type",
        "X-API-Key",
        "X-Request-ID",
        "Cache-Control",
        "If-None-Match",
    ]

    # Where uploaded files live: `local` (UPLOAD_DIR) or `s3` (any S3-compatible store). With s3,
    # UPLOAD_DIR still holds the temporaries uploads are spooled to while they are checked.
    storage_backend: Literal["local", "s3"] = "local"
    upload_dir: Path = Path("uploads")
    # STORAGE_BACKEND=s3: objects `<S3_PREFIX><name>` in S3_BUCKET; credentials from the standard
    # AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...).
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None  # unset: AWS itself
    s3_region: str | None = None
    # /files/{name} answers a redirect (307) instead of the bytes: to FILES_PUBLIC_BASE_URL/<key>
    # when set, else (s3) to a presigned URL of the store valid FILES_SIGNED_URL_SECONDS.
    files_redirect: bool = False
    # A CDN (or public bucket) serving the store's keys; file URLs in answers then point there.
    files_public_base_url: str | None = None
    files_signed_url_seconds: int = Field(300, ge=1, le=7 * 24 * 3600)
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
    # Makes file URLs in answers absolute (`{PUBLIC_BASE_URL}/files/...`); unset: relative.
    public_base_url: str | None = None
    # How long anyone (a CDN, a browser) may reuse an anonymous public read (app.api.caching)
    # without asking again; 0: they may store it but revalidate each time (a cheap 304).
    public_cache_seconds: int = Field(0, ge=0, le=31_536_000)
    # The title of the Atom feed (GET /feed.xml).
    feed_title: str = Field("Quill", min_length=1, max_length=200)

    # The application log (app.core.logging): level and `text` or `json` lines.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    # GET /metrics (app.core.metrics): off by default, so nothing is counted nor exposed. When on,
    # METRICS_TOKEN (if set) is the bearer token a scraper must send.
    metrics_enabled: bool = False
    metrics_token: SecretStr | None = None

    # Password hashes computed at once; each argon2 hash holds its memory while it runs.
    # None: the number of cores (at least 2).
    hash_concurrency: int | None = Field(None, ge=1)

    # Created as admin at `migrate`/`serve` when no admin exists yet (never logged).
    first_admin_email: str | None = None
    first_admin_password: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    # `inline`: mail and the login log run in the answering process after the response;
    # `redis`: they go through the job queue on REDIS_URL, run by `python -m app worker`.
    jobs_backend: Literal["inline", "redis"] = "inline"
    # Prefix of the queue's Redis keys: two deployments (or test runs) sharing a Redis differ here.
    jobs_namespace: str = Field("quill", min_length=1, max_length=64)
    # Tries per mail before it is marked failed; the waits between them double from the minimum
    # up to the maximum (with jitter), so a mail server down for a while is waited out.
    jobs_max_attempts: int = Field(8, ge=1, le=50)
    jobs_retry_min_seconds: float = Field(10, gt=0)
    jobs_retry_max_seconds: float = Field(600, gt=0)

    @field_validator(
        "cors_origins", "cors_allow_headers", "allowed_hosts", "forwarded_allow_ips", mode="before"
    )
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # Accept both `a,b` and a JSON list, as the contract promises.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator(
        "image_decode_concurrency",
        "hash_concurrency",
        "first_admin_email",
        "first_admin_password",
        "s3_bucket",
        "s3_endpoint_url",
        "s3_region",
        "redis_url",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `NAME=` in .env (as .env.example has it) means "not set", not an invalid value.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("rate_limit_auth", "rate_limit_uploads")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        items = parse_many(value)  # raises ValueError on text that is no limit
        if not items or any(item.amount < 1 for item in items):
            raise ValueError("expected a rate limit such as 10/minute")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("public_base_url", "files_public_base_url", mode="before")
    @classmethod
    def _no_trailing_slash(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().rstrip("/") or None
        return value

    @model_validator(mode="after")
    def _jobs_need_redis(self) -> "Settings":
        if self.jobs_backend == "redis" and not self.redis_url:
            raise ValueError("JOBS_BACKEND=redis needs REDIS_URL")
        if self.jobs_retry_max_seconds < self.jobs_retry_min_seconds:
            raise ValueError("JOBS_RETRY_MAX_SECONDS must not be below JOBS_RETRY_MIN_SECONDS")
        return self

    @model_validator(mode="after")
    def _storage_complete(self) -> "Settings":
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _production_guards(self) -> "Settings":
        if self.environment == "production":
            problems = _production_problems(self)
            if problems:
                raise ValueError("; ".join(problems))
        elif not self.secret_key:
            if self.environment == "development":
                # Kept on disk so that restarts and every worker sign alike.
                self.secret_key = development_key()
            else:
                self.secret_key = secrets.token_urlsafe(48)
        return self

    @property
    def signing_key(self) -> str:
        if not self.secret_key:  # the validator above always sets it; this guards misuse
            raise RuntimeError("SECRET_KEY is not set")
        return self.secret_key


def _production_problems(settings: Settings) -> list[str]:
    """What a production deployment must not run with, one short reason each."""
    problems = []
    key_problem = weakness(settings.secret_key)
    if key_problem:
        problems.append(f"SECRET_KEY {key_problem}")
    for origin in settings.cors_origins:
        if origin in ("*", "null"):
            problems.append(f"CORS_ORIGINS may not contain {origin!r}")
        elif not origin.startswith("https://"):
            problems.append(f"CORS_ORIGINS must be https:// ({origin})")
    if not settings.frontend_url.startswith("https://"):
        problems.append("FRONTEND_URL must be https://")
    if settings.mail_backend == "console":
        problems.append("MAIL_BACKEND=console sends no mail")
    if "*" in settings.allowed_hosts or not settings.allowed_hosts:
        problems.append("ALLOWED_HOSTS must list the host names served, not '*'")
    return problems


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
