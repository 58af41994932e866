"""Files to upload (real images, a PDF, hostile content) and what an upload left in storage."""

import io
import struct
import zlib
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.uploads.models import Upload
from app.uploads.storage import Storage
from app.users.models import User

PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
ORIENTATION, MAKE, GPS_IFD = 0x0112, 0x010F, 0x8825


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), **kw: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "blue").save(buffer, fmt, **kw)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A genuine 1-bit PNG of width×height: a few KB on disk, width×height bytes once decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )
    return path


def secret_exif(orientation: int = 1) -> Image.Exif:
    """EXIF a re-encoded image must not keep: a camera make and a GPS position."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "SECRETCAM"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (52.0, 22.0, 30.0)
    gps[3], gps[4] = "E", (4.0, 53.0, 10.0)
    return exif


class StoredFile:
    """One stored name in any storage, read and changed the way the tests used to on disk."""

    def __init__(self, storage: Storage, name: str) -> None:
        self.storage, self.name = storage, name

    def exists(self) -> bool:
        return self.storage.exists(self.name)

    is_file = exists

    def read_bytes(self) -> bytes:
        with self.storage.open(self.name) as handle:
            return handle.read()

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.read_bytes())

    def write_bytes(self, data: bytes) -> None:
        """Store `data` under the name behind the database's back (a stray, a stand-in)."""
        src = self.storage.temp_file()
        src.write_bytes(data)
        self.storage.save(src, self.name)

    def unlink(self) -> None:
        """Remove the file behind the database's back (a lost file)."""
        self.storage.delete(self.name)


class StoreView:
    """A storage seen as a folder: `store / name` is a `StoredFile`, local disk or S3 alike."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def __truediv__(self, name: str) -> StoredFile:
        return StoredFile(self.storage, name)


def _storage(store: "Storage | StoreView") -> Storage:
    return store.storage if isinstance(store, StoreView) else store


def stored(store: "Storage | StoreView") -> set[str]:
    """Every stored name (not the temporaries)."""
    return set(_storage(store).names())


def temporaries(store: "Storage | StoreView") -> list[Path]:
    tmp_dir = _storage(store).tmp_dir
    return list(tmp_dir.iterdir()) if tmp_dir.exists() else []


def rows_of(db: Session, user: User) -> int:
    return (
        db.scalar(select(func.count()).select_from(Upload).where(Upload.owner_id == user.id)) or 0
    )
