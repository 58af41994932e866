"""What the app's settings allow an upload once its bytes are in: the owner's quota and how many
images may be decoded at once. Built from the app's Settings for each request (app.api.deps), so
services take it as an argument instead of reading process-wide settings."""

from dataclasses import dataclass

from app.core.config import Settings
from app.uploads import media


@dataclass(frozen=True)
class UploadLimits:
    quota_bytes: int
    decode_workers: int  # IMAGE_DECODE_CONCURRENCY, the cores when unset

    @classmethod
    def from_settings(cls, settings: Settings) -> "UploadLimits":
        return cls(
            quota_bytes=settings.upload_quota_bytes,
            decode_workers=settings.image_decode_concurrency or media.cores(),
        )
