"""/files/{name} from an object store (STORAGE_BACKEND=s3): the object streamed through with the
headers local files get, or a redirect to where the store (or a CDN) serves it itself.

Starlette's FileResponse does this for a local file (Range, HEAD, ETag); for an object the store
does the work: the Range header is handed to it and its 206/416 passed on, and the body is read
in small chunks as the client takes them, never whole."""

import re
from datetime import UTC
from email.utils import format_datetime
from typing import TYPE_CHECKING, cast

from fastapi import Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.config import Settings
from app.uploads.storage import Storage, StoredFileNotFoundError
from app.uploads.types import FileType

if TYPE_CHECKING:
    from app.uploads.s3 import S3Storage

# One range, as S3 takes it (`bytes=0-99`, `bytes=100-`, `bytes=-100`). Several ranges at once,
# which S3 does not serve, or a malformed header: the whole object, as RFC 9110 allows.
_ONE_RANGE = re.compile(r"bytes=(\d+-\d*|-\d+)\Z")


def redirect_target(storage: Storage, settings: Settings, name: str) -> str | None:
    """Where FILES_REDIRECT sends the client: the CDN's URL of the key, else (object store) a
    presigned URL; None (local disk, no CDN): the file is served here."""
    if settings.files_public_base_url:
        return f"{settings.files_public_base_url}/{storage.key(name)}"
    if storage.local:
        return None
    return _objects(storage).signed_url(name, seconds=settings.files_signed_url_seconds)


def redirect(storage: Storage, target: str, name: str, *, signed: bool) -> Response:
    # Unknown names answer 404 here, as when serving: not a redirect to the store's error.
    if not storage.exists(name):
        raise StoredFileNotFoundError()
    # A presigned URL expires: the redirect must not outlive it in a cache. A CDN URL of an
    # immutable name may be cached like the file.
    cache = "no-store" if signed else "public, max-age=31536000, immutable"
    return RedirectResponse(target, status_code=307, headers={"Cache-Control": cache})


def stream_object(
    request: Request,
    storage: Storage,
    name: str,
    file_type: FileType,
    headers: dict[str, str],
    disposition: str | None,
) -> Response:
    from app.uploads.s3 import RangeNotSatisfiableError

    asked = request.headers.get("range", "").strip()
    try:
        found = _objects(storage).get(
            name,
            byte_range=asked if _ONE_RANGE.match(asked) else None,
            head=request.method == "HEAD",
        )
    except RangeNotSatisfiableError as exc:
        extra = {"Content-Range": f"bytes */{exc.size}"} if exc.size is not None else None
        raise StarletteHTTPException(416, headers=extra) from None
    answer = {
        **headers,
        "Accept-Ranges": "bytes",
        "Content-Length": str(found.size),
        "ETag": found.etag,
    }
    if disposition:
        answer["Content-Disposition"] = disposition
    if found.last_modified is not None:
        # botocore gives its own UTC tzinfo; usegmt wants datetime.UTC.
        modified = found.last_modified.astimezone(UTC)
        answer["Last-Modified"] = format_datetime(modified, usegmt=True)
    if found.content_range:
        answer["Content-Range"] = found.content_range
    if found.body is None:
        return Response(status_code=found.status, headers=answer, media_type=file_type.mime)
    return StreamingResponse(
        found.chunks(), status_code=found.status, headers=answer, media_type=file_type.mime
    )


def _objects(storage: Storage) -> "S3Storage":
    # Only the object store is not local; its extra methods (get, signed_url) are not Storage's.
    return cast("S3Storage", storage)
