"""/files/{name}: stored files, served so a browser can never run them."""

from pathlib import PurePath

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from app.api import object_files
from app.api.deps import SettingsDep, StorageDep
from app.core.errors import NotFoundError, documented
from app.uploads.errors import StorageUnavailableError
from app.uploads.storage import StoredFileNotFoundError, safe_name
from app.uploads.types import by_extension

router = APIRouter(tags=["files"])

# Stored names are random and never reused, so a response may be cached for good; the CSP and
# sandbox keep even a hostile file from running script if someone opens it directly.
FILE_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
}


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_HEADER = {"schema": {"type": "string"}}
FILE_CONTENT = {
    "content": {mime: _BINARY for mime in ("image/*", "application/pdf")},
    "headers": {
        "ETag": {**_HEADER, "description": "For `If-None-Match`"},
        "Cache-Control": {**_HEADER, "description": "`public, max-age=31536000, immutable`"},
        "Content-Security-Policy": {**_HEADER, "description": "`default-src 'none'; sandbox`"},
    },
}
# The name is read from the path, not declared as a parameter: a string cannot fail validation,
# and a declared one would have FastAPI document a 422 this route never answers.
NAME_PARAMETER = {
    "parameters": [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
}


# HEAD answers as GET does, without the body; it is left out of the schema as a duplicate.
@router.head("/files/{name}", include_in_schema=False)
@router.get(
    "/files/{name}",
    response_class=FileResponse,
    responses={
        **documented(NotFoundError, 416, StorageUnavailableError),
        200: {"description": "The stored bytes", **FILE_CONTENT},
        206: {"description": "The requested range", **FILE_CONTENT},
        307: {
            "description": "FILES_REDIRECT=true: the file is at `Location` (a CDN, or a signed "
            "URL of the object store valid a few minutes)",
            "headers": {"Location": _HEADER},
        },
    },
    openapi_extra=NAME_PARAMETER,
    summary="A stored file",
    description="Served with its stored type, a long immutable cache, ETag and Range support "
    "(one range; from an object store, several ranges at once get the whole file). PDFs download "
    "as attachments. Unknown names and path tricks answer 404. With `FILES_REDIRECT=true`, a 307 "
    "to `FILES_PUBLIC_BASE_URL` or to a short-lived signed URL of the object store instead. "
    "503 `STORAGE_UNAVAILABLE` when the object store does not answer.",
)
def get_file(request: Request, storage: StorageDep, settings: SettingsDep) -> Response:
    name: str = request.path_params["name"]
    file_type = by_extension(PurePath(name).suffix) if safe_name(name) else None
    if file_type is None:
        raise StoredFileNotFoundError()
    if settings.files_redirect:
        target = object_files.redirect_target(storage, settings, name)
        if target is not None:
            signed = not settings.files_public_base_url
            return object_files.redirect(storage, target, name, signed=signed)
    # Documents download: a browser never renders one in our origin.
    inline = file_type.is_image
    if not storage.local:
        disposition = None if inline else f'attachment; filename="{name}"'
        return object_files.stream_object(
            request, storage, name, file_type, FILE_HEADERS, disposition
        )
    path = storage.path(name)  # StoredFileNotFoundError (404) for unknown names
    return FileResponse(
        path,
        media_type=file_type.mime,
        headers=FILE_HEADERS,
        filename=None if inline else name,
        content_disposition_type="inline" if inline else "attachment",
    )
