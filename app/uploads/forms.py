"""Upload routes' forms: one definition gives a route its body limit, its OpenAPI request body,
and the reader that enforces both (app/uploads/multipart.py).

The limits come from the settings of the app serving the request (MAX_UPLOAD_BYTES), read when
the request arrives: routes are built at import, before any app and its settings exist."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, cast

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app.core.config import Settings
from app.core.errors import FieldRejectedError
from app.core.text import SingleLine
from app.uploads.multipart import ParsedForm, read_multipart, too_large_declared
from app.uploads.storage import Storage

T = TypeVar("T")

# The framework's body limiter on upload routes: never reached, since `read` refuses a form over
# `body_limit` itself, as FILE_TOO_LARGE. The limiter would answer any declared length over its
# limit with its own 413 (PAYLOAD_TOO_LARGE), even one the route refused for another reason.
UNLIMITED = 2**62

# Multipart framing, part headers and the text fields: generous next to a 500-char description.
FORM_OVERHEAD_BYTES = 64 * 1024


def body_limit(max_files: int, max_file_bytes: int) -> int:
    """The most a well-formed form with these limits can take: anything larger is refused from
    Content-Length, or as it streams, before a byte of it is parsed."""
    return max_files * (max_file_bytes + FORM_OVERHEAD_BYTES)


def openapi_request_body(
    file_field: str, *, max_files: int, text_fields: dict[str, int]
) -> dict[str, object]:
    """The OpenAPI `requestBody` of a form read with `read_multipart` (which FastAPI cannot see)."""
    binary = {"type": "string", "format": "binary"}
    files = (
        {"type": "array", "items": binary, "minItems": 1, "maxItems": max_files}
        if max_files > 1
        else binary
    )
    properties: dict[str, object] = {file_field: files}
    properties.update({name: {"type": "string", "maxLength": n} for name, n in text_fields.items()})
    schema = {"type": "object", "required": [file_field], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


@dataclass(frozen=True)
class UploadForm:
    """One upload route's form: what it accepts, documented and enforced from one definition."""

    file_field: str
    max_files: int = 1
    text_fields: dict[str, int] = field(default_factory=dict)

    def route_options(self) -> dict[str, Any]:
        """Keyword arguments for the route decorator: the body limit and the OpenAPI body.

        The route gets a body limiter of its own (any size: it replaces the routers' JSON limit),
        and a first dependency sets it to this form's limit under the app's settings."""
        return {
            "openapi_extra": openapi_request_body(
                self.file_field, max_files=self.max_files, text_fields=self.text_fields
            ),
            "max_body_size": UNLIMITED,
        }

    async def read(self, request: Request, storage: Storage, session: Session) -> ParsedForm:
        # The body arrives as slowly as the client sends it. End the transaction the route's
        # dependencies opened first, so no lock (SQLite) or snapshot is held all that time;
        # loaded objects stay usable (expire_on_commit is off).
        max_file = _max_file_bytes(request)
        max_body = body_limit(self.max_files, max_file)
        too_large_declared(request, max_body_bytes=max_body, max_file_bytes=max_file)
        await run_in_threadpool(session.commit)
        form = await read_multipart(
            request,
            file_field=self.file_field,
            max_files=self.max_files,
            max_file_bytes=max_file,
            text_fields=self.text_fields,
            storage=storage,
            max_body_bytes=max_body,
        )
        try:
            check_text_fields(form.fields)
        except FieldRejectedError:
            await run_in_threadpool(form.cleanup)
            raise
        return form

    async def store(
        self,
        request: Request,
        storage: Storage,
        session: Session,
        save: Callable[..., T],
        **kwargs: Any,
    ) -> T:
        """Read the form as it streams in, then call `save(session, storage=, form=, **kwargs)`
        on a worker thread; the form's temporaries are gone afterwards, whatever happened."""
        form = await self.read(request, storage, session)
        with form:
            return await run_in_threadpool(save, session, storage=storage, form=form, **kwargs)


def _max_file_bytes(request: Request) -> int:
    # The settings create_app put on the app serving this request (app.api.deps reads the same).
    return cast(Settings, request.app.state.settings).max_upload_bytes


_TEXT_FIELD = TypeAdapter(Annotated[str, SingleLine(10_000)])


def check_text_fields(fields: dict[str, str]) -> None:
    """The text rules of every other input (app/text.py) for the form's text fields: 422 with
    `errors` naming the field."""
    for name, value in fields.items():
        try:
            _TEXT_FIELD.validate_python(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise FieldRejectedError(("body", name), error["type"], error["msg"]) from None
