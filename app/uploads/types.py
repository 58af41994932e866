"""The file types Quill stores, in one table: the name a message gives each, its MIME type and
stored extension, the one Pillow plugin that may open it, and where it is accepted.

Every upload route takes the images; documents (PDF) only where a route says so (`allow_pdf`:
POST /uploads). Images are re-encoded and served inline; a document is stored as received and
downloads as an attachment, so a browser never renders it in Quill's origin. Detection
(app/uploads/media.py), stored names (storage.py) and serving (app/api/routes/files.py) all read
this table: a new type is one row here.
"""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class FileType:
    kind: Literal["image", "pdf"]
    label: str  # as refusals name it: "allowed are JPEG, PNG, ..."
    mime: str
    ext: str  # with the dot, as stored names end
    # The only Pillow plugin allowed to parse it (no format fallback); None: not decoded.
    pillow_format: str | None

    @property
    def is_image(self) -> bool:
        return self.kind == "image"


JPEG = FileType("image", "JPEG", "image/jpeg", ".jpg", "JPEG")
PNG = FileType("image", "PNG", "image/png", ".png", "PNG")
WEBP = FileType("image", "WebP", "image/webp", ".webp", "WEBP")
GIF = FileType("image", "GIF", "image/gif", ".gif", "GIF")
PDF = FileType("pdf", "PDF", "application/pdf", ".pdf", None)

FILE_TYPES = (JPEG, PNG, WEBP, GIF, PDF)
IMAGES = tuple(t for t in FILE_TYPES if t.is_image)
DOCUMENTS = tuple(t for t in FILE_TYPES if not t.is_image)
BY_EXTENSION = {t.ext: t for t in FILE_TYPES}
EXTENSIONS = frozenset(BY_EXTENSION)


def accepted(*, allow_pdf: bool) -> tuple[FileType, ...]:
    """The types a route takes: images everywhere, documents where it allows them."""
    return IMAGES + DOCUMENTS if allow_pdf else IMAGES


def by_extension(ext: str) -> FileType | None:
    """The type a stored name's extension (".png") stands for, if it is one we store."""
    return BY_EXTENSION.get(ext)
