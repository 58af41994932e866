"""The error sets routes share in their `responses=documented(...)`: each names what a caller
really gets back, so the schema's examples match the wire (tests/api/test_documented_errors.py
provokes every one)."""

from app.auth.errors import InvalidTokenError
from app.core.errors import Documentable, NotAuthenticatedError
from app.uploads.errors import (
    FileTooLargeError,
    FormFieldError,
    ImageTooLargeError,
    MalformedMultipartError,
    NoFileError,
    QuotaExceededError,
    TooManyFilesError,
    UnsupportedMediaTypeError,
)

# A protected route: no credentials (NOT_AUTHENTICATED), or a bad or ended one (INVALID_TOKEN).
CALLER: tuple[Documentable, ...] = (NotAuthenticatedError, InvalidTokenError)
# A route with a JSON (or form) body: one that does not parse (400 BAD_REQUEST, e.g. invalid
# UTF-8), a field that fails validation, a body over MAX_JSON_BODY_BYTES.
JSON_BODY: tuple[Documentable, ...] = (400, 422, 413)
# A route that reads or writes the database: it may not answer.
DATABASE: tuple[Documentable, ...] = (503,)
# An upload route (app.uploads.forms): what the form, the file's bytes and the quota can end in.
UPLOAD: tuple[Documentable, ...] = (
    FileTooLargeError,
    ImageTooLargeError,
    QuotaExceededError,
    UnsupportedMediaTypeError,
    NoFileError,
    FormFieldError,
    TooManyFilesError,
    MalformedMultipartError,
)
