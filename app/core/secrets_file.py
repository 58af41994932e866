"""SECRET_KEY helpers: the development key kept on disk, and the production strength check."""

import contextlib
import os
import re
import secrets
from pathlib import Path

# In the working directory, next to the SQLite file; git-ignored.
DEV_SECRET_KEY_FILE = Path(".quill-secret-key")
MIN_SECRET_KEY_LENGTH = 32
# Fewer distinct characters than this is a typed pattern, not a random key (a random 32-character
# hex key has about 14).
MIN_DISTINCT_CHARACTERS = 8
# Words that ship in examples and tutorials; a key containing one was typed, not generated.
PLACEHOLDER_WORDS = ("changeme", "changethis", "secret", "password", "example", "placeholder")


def _periodic(text: str) -> bool:
    """`abcabcab`: the key repeats a shorter piece of itself."""
    return any(text[period:] == text[:-period] for period in range(1, len(text) // 2 + 1))


def weakness(key: str | None) -> str | None:
    """Why `key` may not sign production tokens, or None if it looks random enough."""
    if not key:
        return "is required when ENVIRONMENT=production"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"must be at least {MIN_SECRET_KEY_LENGTH} characters"
    letters = re.sub(r"[^a-z0-9]", "", key.lower())
    if any(word in letters for word in PLACEHOLDER_WORDS):
        return "looks like a placeholder (changeme, secret, password, ...)"
    if _periodic(key) or len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return "has too little entropy (a repeated pattern or too few distinct characters)"
    return None


def development_key(path: Path = DEV_SECRET_KEY_FILE) -> str:
    """The key in `path`, created once: every worker and restart then signs alike.

    The key is written to a private temporary file and hard-linked into place, which fails if the
    file exists (like O_EXCL) and never shows a half-written file: two workers starting at once
    both end up reading the one that won.
    """
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        # FileExistsError: another worker won the race; its key is the one to use.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it, or set SECRET_KEY")
    return key
