"""Reading a multipart upload as it arrives, so limits are enforced on bytes, not on a spooled form.

FastAPI's `UploadFile` spools the whole form before a route runs, which means a 2 GB body is
received and written out before anyone can say "too large". `read_multipart` feeds the request
stream to python-multipart chunk by chunk instead: each file part goes straight to a temporary
file under the storage's `.tmp` directory while it is counted and hashed, and the moment a part
passes its limit the request is refused and the rest of the body is never read. Memory stays at
about one network chunk whatever the file size.

The caller owns the temporary files it gets back: move each into place with `Storage.save` or
delete it, most simply with `with form:` / `form.cleanup()` around the handling code. On any
error raised here, every temporary file already written has been deleted.
"""

import hashlib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app.uploads.errors import (
    FileTooLargeError,
    FormFieldError,
    MalformedMultipartError,
    NoFileError,
    TooManyFilesError,
    UnsupportedMediaTypeError,
)
from app.uploads.storage import Storage

MIB = 1024 * 1024
# A UTF-8 character is at most 4 bytes: past this many bytes a text field is over its limit for
# sure, so the limit also bounds the memory a text field may take while it arrives.
_MAX_UTF8_BYTES_PER_CHAR = 4
# Names from the client appear in messages; keep them short.
_NAME_IN_MESSAGE = 40
# The client's filename is only ever data to show back; a filesystem's usual limit is plenty.
_MAX_ORIGINAL_NAME = 255


@dataclass
class ReceivedFile:
    temp_path: Path
    original_name: str
    size: int
    sha256: str


@dataclass
class ParsedForm:
    """The files (as temporaries the caller must save or delete) and text fields of a form."""

    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def cleanup(self) -> None:
        """Delete every temporary still present; files already moved by `save` are untouched."""
        for received in self.files:
            received.temp_path.unlink(missing_ok=True)

    def __enter__(self) -> "ParsedForm":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def _short(name: str) -> str:
    return name if len(name) <= _NAME_IN_MESSAGE else name[:_NAME_IN_MESSAGE] + "…"


def _clean_filename(raw: bytes) -> str:
    # Browsers send UTF-8; some send a full local path. Keep the last component, without
    # control characters, so it is safe to show and to log.
    name = raw.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cc")
    return name[:_MAX_ORIGINAL_NAME]


@dataclass
class _FilePart:
    original_name: str
    path: Path | None = None
    handle: BinaryIO | None = None
    size: int = 0
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)


@dataclass
class _TextPart:
    name: str
    data: bytearray = field(default_factory=bytearray)


class _FormReader:
    """python-multipart callbacks. They run inside `parser.write`, so they only decide and
    queue; disk writes are done afterwards in a worker thread, off the event loop."""

    def __init__(
        self,
        *,
        file_field: str,
        max_files: int,
        max_file_bytes: int,
        text_fields: dict[str, int],
        storage: Storage,
    ) -> None:
        self.file_field = file_field
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.text_fields = text_fields
        self.storage = storage
        self.file_parts: list[_FilePart] = []
        self.fields: dict[str, str] = {}
        self.finished = False
        self._current: _FilePart | _TextPart | None = None
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        # (part, data) to write, or (part, None) to close; drained after every chunk.
        self._pending: list[tuple[_FilePart, bytes | None]] = []

    # -- callbacks --------------------------------------------------------------------------

    def on_part_begin(self) -> None:
        self._current = None
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise MalformedMultipartError("A form part has no name", field=self.file_field)
        name = options[b"name"].decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == self.file_field:
            if filename is None:
                raise FormFieldError(f"Form field '{_short(name)}' must be a file", field=name)
            if len(self.file_parts) >= self.max_files:
                raise TooManyFilesError(
                    f"At most {self.max_files} files may be uploaded at once", field=name
                )
            part = _FilePart(original_name=_clean_filename(filename))
            self.file_parts.append(part)
            self._current = part
        elif name in self.text_fields:
            if filename is not None:
                raise FormFieldError(
                    f"Form field '{_short(name)}' must be text, not a file", field=name
                )
            if name in self.fields:
                raise FormFieldError(
                    f"Form field '{_short(name)}' is given more than once", field=name
                )
            self._current = _TextPart(name)
        else:
            raise FormFieldError(f"Unknown form field '{_short(name)}'", field=_short(name))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        if isinstance(part, _FilePart):
            part.size += end - start
            if part.size > self.max_file_bytes:
                raise _too_large(self.max_file_bytes)
            self._pending.append((part, data[start:end]))
        elif isinstance(part, _TextPart):
            part.data += data[start:end]
            if len(part.data) > self.text_fields[part.name] * _MAX_UTF8_BYTES_PER_CHAR:
                self._text_too_long(part.name)

    def on_part_end(self) -> None:
        part = self._current
        if isinstance(part, _FilePart):
            if part.size == 0:
                if part.original_name:
                    raise FormFieldError(
                        f"File '{_short(part.original_name)}' is empty", field=self.file_field
                    )
                # What a browser sends for a file input left empty: no file at all.
                self.file_parts.remove(part)
            else:
                self._pending.append((part, None))
        elif isinstance(part, _TextPart):
            try:
                text = part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise FormFieldError(
                    f"Form field '{part.name}' is not valid UTF-8", field=part.name
                ) from None
            if len(text) > self.text_fields[part.name]:
                self._text_too_long(part.name)
            self.fields[part.name] = text
        self._current = None

    def on_end(self) -> None:
        self.finished = True

    def _text_too_long(self, name: str) -> None:
        limit = self.text_fields[name]
        raise FormFieldError(f"Form field '{name}' is longer than {limit} characters", field=name)

    # -- disk work (worker thread) ----------------------------------------------------------

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        """Write and close what the callbacks queued. Runs in a worker thread."""
        pending, self._pending = self._pending, []
        for part, data in pending:
            if data is None:
                if part.handle is not None:
                    part.handle.close()
                    part.handle = None
                continue
            handle = part.handle
            if handle is None:
                # Created on first data, so an aborted empty part leaves nothing to clean up.
                part.path = self.storage.temp_file()
                handle = part.handle = part.path.open("wb")
            handle.write(data)
            part.digest.update(data)

    def discard(self) -> None:
        """Close and delete every temporary file. Safe to call in any state."""
        self._pending.clear()
        for part in self.file_parts:
            if part.handle is not None:
                part.handle.close()
                part.handle = None
            if part.path is not None:
                part.path.unlink(missing_ok=True)

    def result(self) -> ParsedForm:
        files = [
            ReceivedFile(p.path, p.original_name, p.size, p.digest.hexdigest())
            for p in self.file_parts
            if p.path is not None
        ]
        return ParsedForm(files=files, fields=dict(self.fields))


def _too_large(max_file_bytes: int) -> FileTooLargeError:
    return FileTooLargeError(f"File is larger than the {max_file_bytes / MIB:g} MiB limit")


def too_large_declared(request: Request, *, max_body_bytes: int, max_file_bytes: int) -> None:
    """FILE_TOO_LARGE before a byte is read when the declared length cannot fit the form: the
    same answer a file over the limit gets as it streams (the framework's limiter would answer
    its own PAYLOAD_TOO_LARGE, hence none on these routes: see UploadForm.route_options)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise _too_large(max_file_bytes)


def _boundary(request: Request, file_field: str) -> bytes:
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise UnsupportedMediaTypeError("The request body must be multipart/form-data")
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedMultipartError(
            "The multipart Content-Type has no boundary", field=file_field
        )
    return boundary


async def read_multipart(
    request: Request,
    *,
    file_field: str,
    max_files: int,
    max_file_bytes: int,
    text_fields: dict[str, int],
    storage: Storage,
    max_body_bytes: int | None = None,
) -> ParsedForm:
    """Stream `request`'s multipart body into temporary files, enforcing every limit as it goes.

    Accepts 1..`max_files` file parts named `file_field`, each at most `max_file_bytes`, and
    the text fields named in `text_fields` (name -> maximum characters), each at most once.
    Anything else is refused. The caller must `save` or delete the returned temporaries
    (`ParsedForm.cleanup`); on error none are left behind.
    """
    reader = _FormReader(
        file_field=file_field,
        max_files=max_files,
        max_file_bytes=max_file_bytes,
        text_fields=text_fields,
        storage=storage,
    )
    try:
        parser = MultipartParser(
            _boundary(request, file_field),
            callbacks={
                "on_part_begin": reader.on_part_begin,
                "on_header_field": reader.on_header_field,
                "on_header_value": reader.on_header_value,
                "on_header_end": reader.on_header_end,
                "on_headers_finished": reader.on_headers_finished,
                "on_part_data": reader.on_part_data,
                "on_part_end": reader.on_part_end,
                "on_end": reader.on_end,
            },
        )
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if max_body_bytes is not None and received > max_body_bytes:
                raise _too_large(max_file_bytes)
            parser.write(chunk)
            if reader.has_pending:
                await run_in_threadpool(reader.flush)
            if reader.finished:
                # Whatever follows the closing boundary is epilogue: not worth reading.
                break
        parser.finalize()
        if not reader.finished:
            raise MalformedMultipartError(
                "The multipart body ended before its closing boundary", field=file_field
            )
        form = reader.result()
        if not form.files:
            raise NoFileError(
                f"No file was uploaded in form field '{file_field}'", field=file_field
            )
        return form
    except FormParserError:
        reader.discard()
        raise MalformedMultipartError(field=file_field) from None
    except BaseException:
        # Also on cancellation and client disconnects: no temporary may outlive the request.
        reader.discard()
        raise
