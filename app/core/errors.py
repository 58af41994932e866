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
        self.errors = [{"field": _field(loc), "message": message, "type": kind}]


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


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can answer."""
    # Imported here: schemas -> storage -> errors would otherwise be a cycle.
    from app.core.schemas import ErrorResponse

    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


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
    code = HTTP_CODES.get(status, HTTPStatus(status).name)
    return envelope(status, code, message, request_id_of(request), headers=exc.headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return " → ".join(str(part) for part in loc)


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": _field(err.get("loc", ())), "message": err.get("msg", ""), "type": err["type"]}
        for err in exc.errors()
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
