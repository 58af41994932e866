"""Where uploaded files live: a small `Storage` interface and its local-disk implementation.

Routes and services speak only to `Storage`, so an object store (app/uploads/s3.py) can replace
`LocalStorage` without touching them. Stored names are always generated here (`new_name`) and
checked with `safe_name` before they touch the filesystem, so a name taken from a URL can never
escape the root.

Writes are atomic: a file is produced under `<root>/.tmp` and moved into place with `os.replace`,
which is atomic because both paths are on the same filesystem. A reader therefore sees either no
file or the whole file, never half of one.
"""

import errno
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol, overload, runtime_checkable

from app.core.errors import NotFoundError
from app.uploads.types import EXTENSIONS

logger = logging.getLogger("quill.storage")

TMP_DIR_NAME = ".tmp"
# A temporary untouched this long belongs to no request: a streaming upload rewrites its file with
# every chunk, and the rest of a request takes seconds. Younger ones may be another worker's
# (several processes share UPLOAD_DIR), so even at start-up only older ones are swept.
STALE_TEMP_SECONDS = 3600
URL_PREFIX = "/files/"

# Deliberately narrow: only what `new_name` produces. \Z, not $, so a trailing newline fails too.
_STORED_EXTENSIONS = "|".join(sorted(re.escape(ext.removeprefix(".")) for ext in EXTENSIONS))
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{16,64}\.(?:" + _STORED_EXTENSIONS + r")\Z")


class StoredFileNotFoundError(NotFoundError):
    message = "File not found"


def safe_name(name: object) -> bool:
    """True only for names `new_name` could have produced; everything else is a path trick."""
    return isinstance(name, str) and _SAFE_NAME.fullmatch(name) is not None


def new_name(ext: str) -> str:
    """A fresh random stored name with extension `ext` (".png" or "png")."""
    ext = ext if ext.startswith(".") else "." + ext
    if ext not in EXTENSIONS:
        raise ValueError(f"extension {ext!r} is not one we store")
    # 24 random bytes -> 32 URL-safe characters: unguessable, and never collides in practice.
    return secrets.token_urlsafe(24) + ext


@runtime_checkable
class Storage(Protocol):
    """What the rest of the app may ask of file storage. `name` is always a `safe_name`."""

    # True when files are on this machine's disk (`path` works); else /files/ streams them.
    local: bool

    def save(self, src: Path, name: str) -> None:
        """Move the finished file `src` (from `temp_file`) into place as `name`, atomically."""
        ...

    def open(self, name: str) -> BinaryIO:
        """Open a stored file for reading; `StoredFileNotFoundError` if there is none."""
        ...

    def delete(self, name: str) -> None:
        """Remove a stored file; a missing one is not an error (deletes are retried)."""
        ...

    def exists(self, name: str) -> bool: ...

    def url(self, name: str) -> str:
        """The public URL of a stored file (`public_url`)."""
        ...

    def key(self, name: str) -> str:
        """Where the file is in the store: the object key on S3, the file name on disk; a CDN
        at FILES_PUBLIC_BASE_URL serves it at `<FILES_PUBLIC_BASE_URL>/<key>`."""
        ...

    def path(self, name: str) -> Path:
        """The local path of a stored file (local backends only, e.g. to serve it);
        `StoredFileNotFoundError` if there is none, or if the storage is not local."""
        ...

    def names(self) -> Iterator[str]:
        """Every stored file's name, for a consistency check against the database."""
        ...

    def temp_file(self, suffix: str = "") -> Path:
        """A new empty temporary file the caller must `save` or delete."""
        ...

    def temporary(self, suffix: str = "") -> AbstractContextManager[Path]:
        """Context manager around `temp_file` that deletes the file on exit if still there."""
        ...

    @property
    def tmp_dir(self) -> Path:
        """The local folder of the temporaries."""
        ...

    def purge_temp(self, older_than_seconds: float = STALE_TEMP_SECONDS) -> int:
        """Delete temporaries a crashed request left behind; returns how many went."""
        ...


class Temporaries:
    """Upload temporaries in a local folder: the multipart reader spools every file here before
    any storage sees it, whatever the storage (app/uploads/s3.py keeps its spool on disk too)."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def temp_file(self, suffix: str = "") -> Path:
        # mkstemp creates the file exclusively (O_EXCL, mode 0600): no race with another upload.
        fd, raw = tempfile.mkstemp(suffix=suffix, dir=self.tmp_dir)
        os.close(fd)
        return Path(raw)

    @contextmanager
    def temporary(self, suffix: str = "") -> Iterator[Path]:
        path = self.temp_file(suffix)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def purge_temp(self, older_than_seconds: float = STALE_TEMP_SECONDS) -> int:
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed


class LocalStorage(Temporaries):
    """Files in one directory on local disk, temporaries in its `.tmp` subdirectory."""

    local = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        super().__init__(self.root / TMP_DIR_NAME)

    def _checked(self, name: str) -> Path:
        if not safe_name(name):
            # A name that cannot exist is answered like a missing file: no oracle, no traversal.
            raise StoredFileNotFoundError()
        return self.root / name

    def save(self, src: Path, name: str) -> None:
        if not safe_name(name):
            raise ValueError(f"refusing to store under unsafe name {name!r}")
        dst = self.root / name
        try:
            Path(src).replace(dst)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # `src` lives on another filesystem: copy it next to its destination first, so the
            # final step is still one atomic rename.
            with self.temporary() as staged:
                shutil.copyfile(src, staged)
                staged.replace(dst)
            Path(src).unlink(missing_ok=True)

    def open(self, name: str) -> BinaryIO:
        try:
            return self._checked(name).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise StoredFileNotFoundError() from None

    def delete(self, name: str) -> None:
        if not safe_name(name):
            logger.warning("delete of unsafe stored name %r ignored", name)
            return
        (self.root / name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return safe_name(name) and (self.root / name).is_file()

    def url(self, name: str) -> str:
        return public_url(name)

    def key(self, name: str) -> str:
        return name

    def path(self, name: str) -> Path:
        path = self._checked(name)
        if not path.is_file():
            raise StoredFileNotFoundError()
        return path

    def names(self) -> Iterator[str]:
        for entry in os.scandir(self.root):
            if entry.is_file(follow_symlinks=False) and safe_name(entry.name):
                yield entry.name


# PUBLIC_BASE_URL of the app serving this process, or FILES_PUBLIC_BASE_URL and the storage's key
# prefix: the ORM properties that build file URLs (avatar_url, cover_image_url, Upload.url) have
# no request to ask. create_app sets them; every app in one process shares them.
_public_base = ""
_files_base = ""
_key_prefix = ""


def configure_urls(
    public_base_url: str | None, files_public_base_url: str | None = None, key_prefix: str = ""
) -> None:
    """Make file URLs absolute under `files_public_base_url` (a CDN serving the store's keys,
    `<base>/<key_prefix><name>`), else under `public_base_url` (`<base>/files/<name>`, no trailing
    slash), else relative."""
    global _public_base, _files_base, _key_prefix
    _public_base = (public_base_url or "").rstrip("/")
    _files_base = (files_public_base_url or "").rstrip("/")
    _key_prefix = key_prefix


@overload
def public_url(name: str) -> str: ...
@overload
def public_url(name: None) -> None: ...
@overload
def public_url(name: str | None) -> str | None: ...
def public_url(name: str | None) -> str | None:
    """The URL a client fetches a stored file at, or None for no file: every file URL in an
    answer (an upload's, an avatar's, a cover's) and `Storage.url` is built here. Files are
    served by the app itself at /files/, whatever the storage, unless a CDN is configured
    (FILES_PUBLIC_BASE_URL, then the URL is the CDN's); the /files/ URL is absolute under
    PUBLIC_BASE_URL (`configure_urls`), else relative to the API."""
    if not name:
        return None
    if not safe_name(name):
        raise ValueError(f"no URL for unsafe name {name!r}")
    if _files_base:
        return f"{_files_base}/{_key_prefix}{name}"
    return _public_base + URL_PREFIX + name
