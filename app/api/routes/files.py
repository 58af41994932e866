"""/files/{name}: stored files, served so a browser can never run them."""

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from app.api.deps import StorageDep
from app.core.errors import NotFoundError, documented
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
        **documented(NotFoundError, 416),
        200: {"description": "The stored bytes", **FILE_CONTENT},
        206: {"description": "The requested range", **FILE_CONTENT},
    },
    openapi_extra=NAME_PARAMETER,
    summary="A stored file",
    description="Served with its stored type, a long immutable cache, ETag and Range support. "
    "PDFs download as attachments. Unknown names and path tricks answer 404.",
)
def get_file(request: Request, storage: StorageDep) -> FileResponse:
    name: str = request.path_params["name"]
    path = storage.path(name)  # StoredFileNotFoundError (404) for unsafe or unknown names
    file_type = by_extension(path.suffix)
    if file_type is None:
        raise NotFoundError("File not found")
    # Documents download: a browser never renders one in our origin.
    inline = file_type.is_image
    return FileResponse(
        path,
        media_type=file_type.mime,
        headers=FILE_HEADERS,
        filename=None if inline else name,
        content_disposition_type="inline" if inline else "attachment",
    )
