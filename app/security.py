"""Password hashing, signed tokens and API key material. No database access here."""

import hashlib
import os
import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, TypeVar

from jose import JWTError, jwt
from passlib.context import CryptContext

from app.config import get_settings

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh", "reset", "verify"]

RESET_TOKEN_MINUTES = 30
VERIFY_TOKEN_MINUTES = 60 * 24

# argon2id at OWASP's minimum (19 MiB, 2 iterations, 1 lane). bcrypt stays only so that hashes
# from an older deployment still verify; `verify_and_update` re-hashes them with argon2.
pwd_context = CryptContext(
    schemes=["argon2", "bcrypt"],
    deprecated=["bcrypt"],
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)

# Each argon2 call holds 19 MiB for ~30 ms, so hashes run on a small pool of their own rather
# than on whichever request thread asks: callers past HASH_CONCURRENCY wait their turn instead
# of multiplying that by the thread pool. The pool matters as much as the bound: glibc keeps a
# freed 19 MiB block in the heap arena of the thread that used it, so hashing on any of the 40
# request threads (behind a semaphore, as before) still left one block per arena behind. The
# bench measured 600 MiB RSS after a login flood that way; on these threads, 180 MiB (100 at
# rest).
HASH_CONCURRENCY = max(2, os.cpu_count() or 2)
_hasher = ThreadPoolExecutor(max_workers=HASH_CONCURRENCY, thread_name_prefix="quill-hash")

T = TypeVar("T")


def _on_hash_thread(function: Callable[..., T], *args: Any) -> T:
    return _hasher.submit(function, *args).result()


def hash_password(password: str) -> str:
    return _on_hash_thread(pwd_context.hash, password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Check a password; returns (ok, new_hash_if_the_stored_one_should_be_upgraded).

    With `hashed=None` (unknown user) a dummy hash is verified anyway, so the answer takes as long
    as for a real user and does not reveal which emails exist.
    """
    target = hashed or _dummy_hash()
    ok, new_hash = _on_hash_thread(pwd_context.verify_and_update, password, target)
    if hashed is None:
        return False, None
    return ok, new_hash


# --- signed tokens -------------------------------------------------------------------------------


class TokenError(Exception):
    """The token is malformed, expired, tampered with or meant for something else."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    type: TokenType
    version: int
    jti: str
    issued_at: datetime
    expires_at: datetime
    email: str | None = None


def _audience(kind: TokenType) -> str:
    return f"quill:{kind}"


def create_token(
    user_id: int,
    kind: TokenType,
    *,
    version: int,
    lifetime: timedelta,
    email: str | None = None,
) -> tuple[str, TokenClaims]:
    now = datetime.now(UTC).replace(microsecond=0)
    claims = TokenClaims(
        user_id=user_id,
        type=kind,
        version=version,
        jti=uuid.uuid4().hex,
        issued_at=now,
        expires_at=now + lifetime,
        email=email,
    )
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "type": kind,
        "aud": _audience(kind),
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "jti": claims.jti,
        "ver": version,
    }
    if email is not None:
        payload["email"] = email
    return jwt.encode(payload, get_settings().signing_key, algorithm=ALGORITHM), claims


def decode_token(token: str, kind: TokenType) -> TokenClaims:
    """Verify signature, expiry, audience and type; anything else is a TokenError."""
    try:
        payload = jwt.decode(
            token,
            get_settings().signing_key,
            algorithms=[ALGORITHM],
            audience=_audience(kind),
            options={
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
                "require_aud": True,
                "require_jti": True,
            },
        )
    except JWTError as exc:
        raise TokenError(str(exc)) from exc
    # `aud` already separates purposes; the explicit `type` check is a second, independent lock.
    if payload.get("type") != kind:
        raise TokenError("wrong token type")
    try:
        user_id = int(payload["sub"])
        version = int(payload.get("ver", -1))
    except (TypeError, ValueError) as exc:
        raise TokenError("malformed claims") from exc
    return TokenClaims(
        user_id=user_id,
        type=kind,
        version=version,
        jti=str(payload["jti"]),
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        email=payload.get("email"),
    )


# --- opaque secrets (refresh token digests, API keys) ------------------------------------------

API_KEY_PREFIX = "qk_"
API_KEY_VISIBLE_CHARS = 10


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough to store it, and fast to look it up by."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """Returns (key shown once, its visible prefix, its digest to store)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:API_KEY_VISIBLE_CHARS], digest(key)
