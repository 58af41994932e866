"""read_multipart driven directly by a hand-made ASGI `receive`: what is read, and memory.

These need control over how the body arrives (chunk by chunk, cut off, endless, a disconnect)
and a count of the bytes pulled, which a test client does not give.
"""

import asyncio
import hashlib
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import ClientDisconnect, Request

from app.uploads.errors import FileTooLargeError, MalformedMultipartError
from app.uploads.multipart import ParsedForm, read_multipart
from app.uploads.storage import LocalStorage

MIB = 1024 * 1024
CHUNK = 64 * 1024
BOUNDARY = "quill-test-boundary"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "uploads")


def tmp_is_empty(storage: LocalStorage) -> bool:
    return not any(storage.tmp_dir.iterdir())


def _streamed_file(size: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A one-file multipart body of `size` bytes, produced lazily in network-sized chunks."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
    ).encode()
    block = bytes(range(256)) * (chunk // 256)
    for sent in range(0, size, chunk):
        yield block[: min(chunk, size - sent)]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


class Feeder:
    """An ASGI `receive` over chunks that counts how many body bytes were pulled."""

    def __init__(self, chunks: Iterator[bytes], *, disconnect: bool = False) -> None:
        self.chunks = chunks
        self.pulled = 0
        self.disconnect = disconnect

    async def __call__(self) -> dict[str, Any]:
        try:
            chunk = next(self.chunks)
        except StopIteration:
            if self.disconnect:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": b"", "more_body": False}
        self.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}


def _request(receive: Feeder) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }
    return Request(scope, receive)


def _read(storage: LocalStorage, feeder: Feeder, max_file_bytes: int) -> ParsedForm:
    async def run() -> ParsedForm:
        return await read_multipart(
            _request(feeder),
            file_field="file",
            max_files=1,
            max_file_bytes=max_file_bytes,
            text_fields={},
            storage=storage,
        )

    return asyncio.run(run())


def test_oversized_file_is_refused_before_the_body_is_read(storage: LocalStorage) -> None:
    feeder = Feeder(_streamed_file(100 * MIB))
    with pytest.raises(FileTooLargeError):
        _read(storage, feeder, max_file_bytes=MIB)
    # Stopped within a chunk of the limit, not after 100 MiB.
    assert feeder.pulled < MIB + 2 * 64 * 1024
    assert tmp_is_empty(storage)


def test_memory_stays_flat_for_a_large_file(storage: LocalStorage) -> None:
    size = 24 * MIB
    expected = hashlib.sha256()
    for block in list(_streamed_file(size))[1:-1]:
        expected.update(block)

    tracemalloc.start()
    try:
        form = _read(storage, Feeder(_streamed_file(size)), max_file_bytes=32 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    with form:
        [received] = form.files
        assert received.size == size == received.temp_path.stat().st_size
        assert received.sha256 == expected.hexdigest()
    assert peak < 2 * MIB, f"peak {peak / MIB:.1f} MiB while reading a {size // MIB} MiB file"
    assert tmp_is_empty(storage)


def test_epilogue_after_the_closing_boundary_is_not_read(storage: LocalStorage) -> None:
    def body() -> Iterator[bytes]:
        yield from _streamed_file(1000)
        for _ in range(1000):  # 64 MiB more from a client that keeps sending after the end
            yield b"x" * CHUNK

    feeder = Feeder(body())
    with _read(storage, feeder, max_file_bytes=MIB) as form:
        assert form.files[0].size == 1000
    assert feeder.pulled < 2 * CHUNK


def test_body_cut_off_before_the_closing_boundary(storage: LocalStorage) -> None:
    chunks = list(_streamed_file(200_000))[:-1]
    with pytest.raises(MalformedMultipartError):
        _read(storage, Feeder(iter(chunks)), max_file_bytes=MIB)
    assert tmp_is_empty(storage)


def test_client_disconnect_mid_upload_leaves_nothing(storage: LocalStorage) -> None:
    chunks = list(_streamed_file(500_000))[:4]
    with pytest.raises(ClientDisconnect):
        _read(storage, Feeder(iter(chunks), disconnect=True), max_file_bytes=MIB)
    assert tmp_is_empty(storage)
