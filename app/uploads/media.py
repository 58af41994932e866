"""What an uploaded file really is, and turning an uploaded image into a clean one.

The type is decided from the bytes alone (the client's Content-Type and filename are never
consulted), by two independent judges that must agree: the file must begin, at offset 0, with the
signature of one allowed type, and the maintained sniffer puremagic must list that same type
among its matches. The signature table alone is the stricter rule (puremagic scores matches and
would rather guess than refuse), so a polyglot (HTML first, PNG later) has no room; puremagic
guards the table against a signature we got wrong. Images must then open with the
one Pillow plugin for that signature, so Pillow's other decoders are never reachable from here.

`process_image` is the real gate for images: it decodes the first frame in full, so bytes that
only look like an image fail there, and writes a fresh file from pixels alone. Nothing of the
upload survives but the pixels: metadata (EXIF, GPS, XMP, comments, ICC, text chunks) and any
trailing bytes are dropped. Animated GIF/WebP/PNG keep their first frame only: it bounds decoding
work to one frame, and avatars and covers are stills.

Everything here is synchronous and CPU-bound; routes call it in a threadpool. A decoded frame
can take a hundred megabytes or more, so decodes are bounded twice: in size (`max_pixels`, and
the bytes width × height × bands, both checked from the header before a pixel is decoded) and in
number (`decoders`: at most `IMAGE_DECODE_CONCURRENCY` at once in the process, whatever the
route), so many large images at once queue instead of exhausting memory.
"""

import os
import re
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import puremagic
from PIL import Image, ImageOps

from app.uploads.errors import ImageTooLargeError, UnsupportedMediaTypeError
from app.uploads.types import GIF, JPEG, PDF, PNG, WEBP, FileType, accepted

# 40 MP covers any camera photo and bounds a decoded frame to ~160 MB (RGBA).
DEFAULT_MAX_PIXELS = 40_000_000
# The bytes a decoded frame may take, counted as width × height × bands, per pixel of the limit:
# an RGB photo at the pixel limit passes; RGBA or CMYK get 3/4 of the pixels.
DECODE_BYTES_PER_PIXEL = 3

# Enough for every signature below (WebP needs 12 bytes) and for puremagic's look at the head.
_HEAD_BYTES = 2048
# Readers look for %%EOF in the last 1024 bytes (PDF implementation notes), so that is "the end".
_PDF_TAIL_BYTES = 1024
_PDF_HEADER = re.compile(rb"%PDF-\d\.\d")


@dataclass(frozen=True)
class ImageInfo:
    mime: str
    ext: str
    width: int
    height: int


_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 85, "optimize": True},
    "PNG": {"optimize": True},
    "WEBP": {"quality": 85},
    "GIF": {},
}

# Modes each encoder writes as they are; anything else is converted first.
_NATIVE_MODES = {
    "JPEG": {"L", "RGB"},
    "PNG": {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"},
    "WEBP": {"RGB", "RGBA"},
    "GIF": {"1", "L", "P", "RGB", "RGBA"},  # Pillow quantises RGB(A) to a palette itself
}

# What Pillow raises on hostile or broken input varies by plugin; all of it means "not an image".
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


def _sniff(head: bytes) -> FileType | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if _PDF_HEADER.match(head):
        return PDF
    return None


def _sniffer_agrees(head: bytes, detected: FileType) -> bool:
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return False
    return detected.mime in {match.mime_type for match in matches}


def _has_pdf_trailer(fh: BinaryIO) -> bool:
    size = fh.seek(0, 2)
    fh.seek(max(0, size - _PDF_TAIL_BYTES))
    return b"%%EOF" in fh.read()


def _refusal(allow_pdf: bool) -> str:
    allowed = accepted(allow_pdf=allow_pdf)
    images = ", ".join(t.label for t in allowed if t.is_image)
    documents = "".join(f" and {t.label}" for t in allowed if not t.is_image)
    return f"Unsupported file type: allowed are {images} images{documents}"


def detect(path: Path, *, allow_pdf: bool = False) -> FileType:
    """The allowed type `path` holds, judged from its bytes, or `UnsupportedMediaTypeError`.

    For images this reads the header only; `process_image` decodes the pixels in full.
    """
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        detected = _sniff(head)
        if detected is None or not _sniffer_agrees(head, detected):
            raise UnsupportedMediaTypeError(_refusal(allow_pdf))
        if detected is PDF:
            if detected not in accepted(allow_pdf=allow_pdf):
                raise UnsupportedMediaTypeError("Only images are accepted here, not PDF")
            if not _has_pdf_trailer(fh):
                raise UnsupportedMediaTypeError("The PDF is incomplete: no %%EOF at its end")
            return PDF
    try:
        # Only the plugin matching the signature may parse it: no format fallback.
        with Image.open(path, formats=[_pillow_format(detected)]) as im:
            if im.width < 1 or im.height < 1:
                raise UnsupportedMediaTypeError("The image has no pixels")
    except Image.DecompressionBombError:
        raise ImageTooLargeError() from None
    except _DECODE_ERRORS:
        raise UnsupportedMediaTypeError("The file is not a readable image") from None
    return detected


def _pillow_format(detected: FileType) -> str:
    if detected.pillow_format is None:
        raise UnsupportedMediaTypeError("The file is not a readable image")
    return detected.pillow_format


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The image's pixel dimensions are too large: {width}×{height} is more than "
            f"{max_pixels:,} pixels"
        )


def _check_decoded_bytes(im: Image.Image, fit: tuple[int, int] | None, max_bytes: int) -> None:
    bands = len(im.getbands())
    if fit is not None and im.mode in ("1", "P", "PA"):
        bands = 4  # _fit_within turns these into true colour before resizing
    width, height = im.size
    if width * height * bands > max_bytes:
        raise ImageTooLargeError(
            f"The image is too large to decode: {width}×{height} in mode {im.mode} needs more "
            f"than {max_bytes:,} bytes"
        )


def cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))  # what this process may use, e.g. under taskset
    return os.cpu_count() or 1


@cache
def decoders(workers: int) -> ThreadPoolExecutor:
    """The threads images are decoded and re-encoded on: `workers` of them (the app's
    IMAGE_DECODE_CONCURRENCY), so no more frames than that are in memory at once; the rest queue.
    One pool per size, shared by every app of the process that asks for that size: a pool per
    request or per app would no longer bound the process.

    Dedicated threads rather than a semaphore on the request's own thread: the C allocator keeps
    the memory a thread freed in that thread's arena for its next use, so frames decoded on all
    forty request threads would leave forty frames' worth resident after a burst (measured:
    1.2 GiB after 20 uploads of a 120 MB frame, with at most two decoding at a time)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quill-decode")


def _flatten_on_white(im: Image.Image) -> Image.Image:
    # JPEG has no alpha; dropping it would turn transparent areas into whatever colour they
    # hide (often black), so composite onto white the way a viewer would show it.
    rgba = im.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _to_encodable(im: Image.Image, fmt: str) -> Image.Image:
    if im.mode in _NATIVE_MODES[fmt]:
        return im
    if im.has_transparency_data:
        return _flatten_on_white(im) if fmt == "JPEG" else im.convert("RGBA")
    return im.convert("RGB")


def _fit_within(im: Image.Image, box: tuple[int, int]) -> Image.Image:
    if im.width <= box[0] and im.height <= box[1]:
        return im
    # Palette and bilevel images can only be resized with nearest-neighbour; go through true
    # colour so the thumbnail is smooth (the encoder re-palettes for GIF).
    if im.mode in ("1", "P", "PA"):
        im = im.convert("RGBA" if im.has_transparency_data else "RGB")
    im.thumbnail(box, Image.Resampling.LANCZOS)
    return im


def _decode(src: Path, fmt: str, fit: tuple[int, int] | None, max_pixels: int) -> Image.Image:
    """First frame of `src`, fully decoded and upright, with no link to the file."""
    try:
        with Image.open(src, formats=[fmt]) as im:
            # im.size comes from the header; refuse before a single pixel is decoded.
            _check_pixels(im.size, max_pixels)
            _check_decoded_bytes(im, fit, max_pixels * DECODE_BYTES_PER_PIXEL)
            if fit is not None and fmt == "JPEG":
                # Let libjpeg decode at 1/2../1/8 scale when only a thumbnail is wanted;
                # a square box because EXIF orientation may still swap the sides.
                side = max(fit)
                im.draft(None, (side, side))
            im.load()
            # In place: a copy would double the memory of a large frame.
            ImageOps.exif_transpose(im, in_place=True)
            # A plain Image around the same pixels (no copy), with no link to the file.
            return im._new(im.im)
    except Image.DecompressionBombError:
        # Pillow's own hard limit, for when max_pixels is set above it.
        raise ImageTooLargeError() from None
    except _DECODE_ERRORS:
        raise UnsupportedMediaTypeError("The file is not a readable image") from None


def process_image(
    src: Path,
    dst: Path,
    *,
    workers: int | None = None,
    fit: tuple[int, int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageInfo:
    """Decode the image in `src`, strip it to pixels, and write it to `dst` in the same format.

    `fit` scales it down (never up) to fit the box, keeping its aspect ratio. Raises
    `UnsupportedMediaTypeError` for anything but a fully decodable JPEG/PNG/WebP/GIF, and
    `ImageTooLargeError` when width×height exceeds `max_pixels` or the decoded frame would take
    more than `max_pixels` × DECODE_BYTES_PER_PIXEL bytes (both checked before decoding).
    Runs on one of the `decoders(workers)` threads (by default one per core), waiting for one
    to be free.
    """
    detected = detect(src)
    return (
        decoders(workers or cores()).submit(_reencode, src, dst, detected, fit, max_pixels).result()
    )


def _reencode(
    src: Path, dst: Path, detected: FileType, fit: tuple[int, int] | None, max_pixels: int
) -> ImageInfo:
    fmt = _pillow_format(detected)
    im = _decode(src, fmt, fit, max_pixels)
    if fit is not None:
        im = _fit_within(im, fit)
    im = _to_encodable(im, fmt)
    # Encoders fall back to im.info for comments, ICC profiles and more; keep only what is
    # part of the picture itself.
    im.info = {key: im.info[key] for key in ("transparency",) if key in im.info}
    im.save(dst, format=fmt, **_SAVE_OPTIONS[fmt])
    return ImageInfo(detected.mime, detected.ext, im.width, im.height)
