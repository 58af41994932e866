"""DomainError and its generic kinds, the error table each domain registers into, the envelope and
its handlers.
"""

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ExceptionHandler

logger = logging.getLogger("quill.errors")


class DomainError(Exception):
    """Base of every rule violation a service reports. `message` is for people."""

    message: str = "Request failed"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.headers = headers or {}
        # Work that must still run after the error answer is sent (e.g. logging a failed login):
        # FastAPI drops a route's BackgroundTasks when the route raises, so the error carries them.
        self.background: BackgroundTask | None = None


class NotFoundError(DomainError):
    message = "Not found"


class PermissionDeniedError(DomainError):
    message = "You are not allowed to do this"


class ConflictError(DomainError):
    message = "Conflict"


class NotAuthenticatedError(DomainError):
    message = "Not authenticated"

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class FieldRejectedError(DomainError):
    """A field a service refuses after the body validated (it needed the account to decide): a 422
    with `errors`, like any other bad field."""

    message = "Validation failed"

    def __init__(self, loc: tuple[str, ...], kind: str, message: str):
        super().__init__()
        self.errors = [error_item(loc, kind, message)]


class InvalidHostError(DomainError):
    """The Host header names a host this server does not answer for (ALLOWED_HOSTS)."""

    message = "Invalid host header"


class SchemaNotReadyError(DomainError):
    """The database answers but its schema is not at the latest migration (or is gone)."""

    message = "The database is unavailable, try again later"

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"Retry-After": "5"})


# The one table: domain error class -> (HTTP status, stable code). Subclasses are looked up along
# their MRO, so a new error only needs a row here when its status or code differs from its base.
ERROR_TABLE: dict[type[DomainError], tuple[int, str]] = {
    DomainError: (400, "BAD_REQUEST"),
    NotFoundError: (404, "NOT_FOUND"),
    PermissionDeniedError: (403, "FORBIDDEN"),
    ConflictError: (409, "CONFLICT"),
    NotAuthenticatedError: (401, "NOT_AUTHENTICATED"),
    FieldRejectedError: (422, "VALIDATION_FAILED"),
    InvalidHostError: (400, "INVALID_HOST"),
    SchemaNotReadyError: (503, "DATABASE_UNAVAILABLE"),
}

# A 422 whose errors include one of these types answers its own code instead of VALIDATION_FAILED,
# so a client can tell "choose another password" from a malformed request.
VALIDATION_TYPE_CODES: dict[str, str] = {"password_too_common": "PASSWORD_TOO_COMMON"}

HTTP_CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "NOT_AUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    422: "VALIDATION_FAILED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


# Codes the handlers and the middleware answer without a table row: the 500 boundary and a
# database that does not answer.
FRAMEWORK_CODES = ("INTERNAL_ERROR", "DATABASE_UNAVAILABLE")

# Headers an error answer carries, by status, for the OpenAPI entries.
_ERROR_HEADERS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": "`Bearer`: which credentials to send"},
    429: {"Retry-After": "Seconds to wait before trying again"},
    503: {"Retry-After": "Seconds to wait before trying again"},
}


def all_codes() -> list[str]:
    """Every `code` the server can send: the table's rows (each domain registers its own at
    import), the framework statuses' codes, the 422 variants and the handlers' own."""
    codes = {code for _, code in ERROR_TABLE.values()}
    codes.update(HTTP_CODES.values(), VALIDATION_TYPE_CODES.values(), FRAMEWORK_CODES)
    return sorted(codes)


def http_code(status: int) -> str:
    """The code of a status the framework answers itself; one outside HTTP_CODES (none is
    raised today) falls back to its class's code, so every code stays in `all_codes()`."""
    return HTTP_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")


# An error class, a framework status, or a 422 code of VALIDATION_TYPE_CODES.
Documentable = type[DomainError] | int | str


def _example(error: Documentable) -> tuple[int, str, str]:
    """(status, code, message) of an error class (from the table) or a framework status."""
    if isinstance(error, str):
        if error not in VALIDATION_TYPE_CODES.values():
            raise ValueError(f"{error} is not a 422 code")
        return 422, error, "Validation failed"
    if isinstance(error, int):
        if error == 503:
            return 503, "DATABASE_UNAVAILABLE", "The database is unavailable, try again later"
        if error == 500:
            return 500, "INTERNAL_ERROR", "Internal server error"
        message = "Validation failed" if error == 422 else HTTPStatus(error).phrase
        return error, http_code(error), message
    for cls in error.__mro__:
        if cls in ERROR_TABLE:
            status, code = ERROR_TABLE[cls]
            return status, code, error.message
    raise ValueError(f"{error.__name__} has no row in the error table")


def _example_body(status: int, code: str, message: str) -> dict[str, Any]:
    errors = None
    if status == 422:
        errors = [error_item(("body", "email"), "missing", "Field required")]
    return error_body(code, message, "3f2a9c0d8e7b4a61b5c4d3e2f1a09b8c", errors=errors)


def documented(*errors: Documentable) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the errors a route can answer: error classes (status,
    code and message from the table) or framework statuses (422 validation, 413 body limit, 503
    database). Each status gets one example per code it really has on that route."""
    # Imported here: schemas -> storage -> errors would otherwise be a cycle.
    from app.core.schemas import ErrorResponse

    by_status: dict[int, dict[str, dict[str, Any]]] = {}
    for error in errors:
        status, code, message = _example(error)
        by_status.setdefault(status, {})[code] = {
            "summary": message,
            "value": _example_body(status, code, message),
        }
    responses: dict[int | str, dict[str, Any]] = {}
    for status, examples in sorted(by_status.items()):
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"examples": examples}},
        }
        headers = {
            "X-Request-ID": "The request's id, as in `request_id`",
            **_ERROR_HEADERS.get(status, {}),
        }
        entry["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
        responses[status] = entry
    return responses


def register(error: type[DomainError], status: int, code: str) -> None:
    """Let a domain module add its rows to the table next to where it defines its errors."""
    ERROR_TABLE[error] = (status, code)


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_body(
    code: str, message: str, request_id: str | None, *, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The envelope every non-2xx answer carries: the one place its fields are put together."""
    body: dict[str, Any] = {"success": False, "code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    body["request_id"] = request_id
    return body


def error_json(code: str, message: str, request_id: str | None) -> bytes:
    """`error_body` rendered as JSONResponse renders it, for the middleware, which answers below
    the handlers (a bad Host, the 500 boundary, the framework's own text/plain errors)."""
    return bytes(JSONResponse(error_body(code, message, request_id)).body)


def envelope(
    status: int,
    code: str,
    message: str,
    request_id: str | None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> JSONResponse:
    body = error_body(code, message, request_id, errors=errors)
    return JSONResponse(body, status_code=status, headers=headers, background=background)


def _lookup(error: DomainError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return ERROR_TABLE[DomainError]


async def domain_error_handler(request: Request, exc: DomainError) -> JSONResponse:
    status, code = _lookup(exc)
    return envelope(
        status,
        code,
        exc.message,
        request_id_of(request),
        errors=getattr(exc, "errors", None),
        headers=exc.headers,
        background=exc.background,
    )


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    if status == 404 and "route" not in request.scope:
        message = f"Route {request.url.path} not found"
    elif isinstance(exc.detail, str) and exc.detail:
        message = exc.detail
    else:
        message = HTTPStatus(status).phrase
    code = http_code(status)
    return envelope(status, code, message, request_id_of(request), headers=exc.headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return " → ".join(str(part) for part in loc)


def error_item(loc: tuple[Any, ...] | list[Any], kind: str, message: str) -> dict[str, Any]:
    """One entry of a 422's `errors`: `loc` the path as an array, `field` its display form."""
    return {"loc": list(loc), "field": _field(loc), "message": message, "type": kind}


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        error_item(err.get("loc", ()), err["type"], err.get("msg", "")) for err in exc.errors()
    ]
    codes = [VALIDATION_TYPE_CODES[e["type"]] for e in errors if e["type"] in VALIDATION_TYPE_CODES]
    code = codes[0] if codes else "VALIDATION_FAILED"
    return envelope(422, code, "Validation failed", request_id_of(request), errors=errors)


async def database_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable (request %s): %s", request_id_of(request), exc)
    return envelope(
        503,
        "DATABASE_UNAVAILABLE",
        "The database is unavailable, try again later",
        request_id_of(request),
        headers={"Retry-After": "5"},
    )


def install_handlers(app: FastAPI) -> None:
    # Starlette types handlers as taking any Exception; each is registered for its own class, so
    # it only ever gets that one: the casts say so.
    app.add_exception_handler(DomainError, cast(ExceptionHandler, domain_error_handler))
    app.add_exception_handler(StarletteHTTPException, cast(ExceptionHandler, http_error_handler))
    app.add_exception_handler(
        RequestValidationError, cast(ExceptionHandler, validation_error_handler)
    )
    app.add_exception_handler(OperationalError, database_unavailable_handler)
    app.add_exception_handler(PoolTimeoutError, database_unavailable_handler)
