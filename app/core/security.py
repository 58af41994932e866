"""Password hashing, signed tokens and API key material. No database access here."""

import hashlib
import os
import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Annotated, Any, Literal, TypeVar

from jose import JWTError, jwt
from passlib.context import CryptContext
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh", "reset", "verify"]

RESET_TOKEN_MINUTES = 30
VERIFY_TOKEN_MINUTES = 60 * 24

# argon2id at OWASP's minimum: 19 MiB (memory_cost in KiB), 2 iterations, 1 lane.
ARGON2_MEMORY_COST = 19456
ARGON2_TIME_COST = 2


def password_context(
    *, memory_cost: int = ARGON2_MEMORY_COST, time_cost: int = ARGON2_TIME_COST
) -> CryptContext:
    """The hashing policy. bcrypt stays only so that hashes from an older deployment still
    verify; `verify_and_update` re-hashes them with argon2. Tests may build a cheaper one."""
    return CryptContext(
        schemes=["argon2", "bcrypt"],
        deprecated=["bcrypt"],
        argon2__memory_cost=memory_cost,
        argon2__time_cost=time_cost,
        argon2__parallelism=1,
    )


pwd_context = password_context()

# Each argon2 call holds its whole memory cost while it runs, so hashes run on a small pool of
# their own rather than on whichever request thread asks: callers past HASH_CONCURRENCY wait their
# turn instead of multiplying that memory by the thread pool. The pool matters as much as the
# bound: glibc keeps a freed block in the heap arena of the thread that used it, so hashing on
# any of the request threads (behind a semaphore, as before) still left one block per arena
# behind, and a login flood grew the process for good (bench/results/ has the measurements).
# One pool per process, of HASH_CONCURRENCY threads: create_app sizes it from its settings
# (`configure_hashing`); until then, from the cores.
DEFAULT_HASH_CONCURRENCY = max(2, os.cpu_count() or 2)
_hash_workers = DEFAULT_HASH_CONCURRENCY


@cache
def _hasher(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quill-hash")


def configure_hashing(workers: int | None) -> None:
    """Hash on `workers` threads (None: one per core, at least two)."""
    global _hash_workers
    _hash_workers = workers or DEFAULT_HASH_CONCURRENCY


def hash_concurrency() -> int:
    return _hash_workers


T = TypeVar("T")


def _on_hash_thread(function: Callable[..., T], *args: Any) -> T:
    return _hasher(_hash_workers).submit(function, *args).result()


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
    # The account's never-reused `uid`: an id alone could name a later account.
    account: str
    type: TokenType
    version: int
    jti: str
    issued_at: datetime
    expires_at: datetime
    # The login session an access or refresh token belongs to.
    session_id: str | None = None
    email: str | None = None


# Ids are 32-bit on every backend; a claim outside that range could only fail in the database.
MAX_INT32 = 2**31 - 1
_HEX32 = r"^[0-9a-f]{32}$"
# Timestamps JSON can carry that datetime can still represent (year 9999 and earlier).
_MAX_TIMESTAMP = 253_402_300_799


class _Payload(BaseModel):
    """The claims we issue, checked strictly: a validly signed token with odd claims (a string
    `exp`, a huge `sub`, a list `ver`) is as invalid as a forged one, never an error further on."""

    model_config = ConfigDict(strict=True, extra="ignore")

    sub: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,9}$")]
    uid: Annotated[str, StringConstraints(pattern=_HEX32)]
    type: str
    ver: Annotated[int, Field(ge=0, le=MAX_INT32)]
    iat: Annotated[int, Field(ge=0, le=_MAX_TIMESTAMP)]
    exp: Annotated[int, Field(ge=0, le=_MAX_TIMESTAMP)]
    jti: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    sid: Annotated[str, StringConstraints(pattern=_HEX32)] | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None


def _audience(kind: TokenType) -> str:
    return f"quill:{kind}"


def create_token(
    user_id: int,
    kind: TokenType,
    *,
    account: str,
    version: int,
    lifetime: timedelta,
    key: str,
    session_id: str | None = None,
    email: str | None = None,
) -> tuple[str, TokenClaims]:
    """A token signed with `key` (the app's Settings.signing_key)."""
    now = datetime.now(UTC).replace(microsecond=0)
    claims = TokenClaims(
        user_id=user_id,
        account=account,
        type=kind,
        version=version,
        jti=uuid.uuid4().hex,
        issued_at=now,
        expires_at=now + lifetime,
        session_id=session_id,
        email=email,
    )
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "uid": account,
        "type": kind,
        "aud": _audience(kind),
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "jti": claims.jti,
        "ver": version,
    }
    if session_id is not None:
        payload["sid"] = session_id
    if email is not None:
        payload["email"] = email
    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


# Sessions are what access and refresh tokens are checked against; the one-off links have none.
_NEEDS_SESSION: frozenset[TokenType] = frozenset({"access", "refresh"})


def decode_token(token: str, kind: TokenType, *, key: str) -> TokenClaims:
    """Verify signature, expiry, audience, type and the shape of every claim; anything else is a
    TokenError."""
    try:
        payload = jwt.decode(
            token,
            key,
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
        claims = _Payload.model_validate(payload)
    # python-jose converts claims with int() before checking them: a list `exp` is a TypeError.
    except (JWTError, ValidationError, TypeError, ValueError, OverflowError) as exc:
        raise TokenError(str(exc)) from exc
    # `aud` already separates purposes; the explicit `type` check is a second, independent lock.
    if claims.type != kind:
        raise TokenError("wrong token type")
    if kind in _NEEDS_SESSION and claims.sid is None:
        raise TokenError("no session")
    user_id = int(claims.sub)
    if user_id > MAX_INT32:
        raise TokenError("malformed claims")
    return TokenClaims(
        user_id=user_id,
        account=claims.uid,
        type=kind,
        version=claims.ver,
        jti=claims.jti,
        issued_at=datetime.fromtimestamp(claims.iat, UTC),
        expires_at=datetime.fromtimestamp(claims.exp, UTC),
        session_id=claims.sid,
        email=claims.email,
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
