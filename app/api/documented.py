"""The error sets routes share in their `responses=documented(...)`: each names what a caller
really gets back, so the schema's examples match the wire (tests/api/test_documented_errors.py
provokes every one)."""

from typing import Any

from fastapi import FastAPI

from app.auth.errors import InvalidTokenError
from app.core.errors import Documentable, NotAuthenticatedError
from app.core.ratelimit import RateLimitedError, RouteLimit
from app.uploads.errors import (
    FileTooLargeError,
    FormFieldError,
    ImageTooLargeError,
    MalformedMultipartError,
    NoFileError,
    QuotaExceededError,
    StorageUnavailableError,
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
# An upload route (app.uploads.forms): what the form, the file's bytes and the quota can end in,
# and RATE_LIMIT_UPLOADS.
UPLOAD: tuple[Documentable, ...] = (
    FileTooLargeError,
    ImageTooLargeError,
    QuotaExceededError,
    UnsupportedMediaTypeError,
    NoFileError,
    FormFieldError,
    TooManyFilesError,
    MalformedMultipartError,
    # STORAGE_BACKEND=s3: the object store did not answer (nothing was stored).
    StorageUnavailableError,
    RateLimitedError,
)

# The routes each rate limit covers (app.core.ratelimit counts them before routing): all of
# /auth, and the four upload routes. Each documents RateLimitedError (the uploads through UPLOAD);
# tests/core/test_rate_limits.py holds the two to each other.
RATE_LIMITS = [
    RouteLimit("auth", "rate_limit_auth", (("POST", "/auth/{action:path}"),)),
    RouteLimit(
        "uploads",
        "rate_limit_uploads",
        (
            ("POST", "/uploads"),
            ("POST", "/uploads/image"),
            ("POST", "/users/me/avatar"),
            ("PATCH", "/posts/{post_id}/cover"),
        ),
    ),
]


# Sent with every answer by app.core.middleware; error answers document them in `documented`.
EVERY_ANSWER_HEADERS = {
    "X-Request-ID": "The request's id (an incoming sane one is echoed), as in error bodies",
    "X-Process-Time": "Time spent in the server, e.g. `3.42ms`",
    "Server-Timing": "The same, for browser dev tools: `app;dur=3.42`",
}


def document_every_answer_headers(app: FastAPI) -> None:
    """Add the headers every answer carries to each success answer the schema lists (once,
    when the schema is first built): a generated client can then read them typed."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for answer in operation.get("responses", {}).values():
                    headers = answer.setdefault("headers", {})
                    for name, text in EVERY_ANSWER_HEADERS.items():
                        headers.setdefault(
                            name, {"description": text, "schema": {"type": "string"}}
                        )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
