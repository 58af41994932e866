"""Uploaded files in an S3-compatible object store (STORAGE_BACKEND=s3), behind `Storage`.

The client is boto3, the AWS SDK: the most used and longest-kept S3 client for Python, tested
against every S3-compatible store (MinIO, Ceph, R2, GCS interop), with presigned URLs and a
transfer manager (s3transfer) that uploads a file from disk in parts, reading each part from the
file as it is sent. With one part in flight (`TRANSFER`) an upload's memory is about one socket
buffer whatever the file's size. obstore was the other candidate; its Rust core buffers each part
in memory and it is younger.

What boto3 cannot do for us, and is here: names map to keys under S3_PREFIX and only `safe_name`s
ever reach the store; a store that does not answer (or refuses our credentials) becomes
`StorageUnavailableError` (503), never a 500; an object that is not there becomes the same 404 as
a missing file on disk. The multipart reader still spools each upload to a local temporary
(`Temporaries`, under UPLOAD_DIR/.tmp), so limits and type detection work as with local disk;
`save` then streams that file to the store and deletes it.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.uploads.errors import StorageUnavailableError
from app.uploads.storage import (
    STALE_TEMP_SECONDS,
    StoredFileNotFoundError,
    Temporaries,
    public_url,
    safe_name,
)
from app.uploads.types import by_extension

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("quill.storage")

MIB = 1024 * 1024
# S3's smallest part (all but the last). One part at a time, without threads: the transfer
# manager reads each part from the file as it sends it, so this bounds nothing in memory but the
# number of requests (a 50 MiB file is 10 parts).
PART_BYTES = 5 * MIB
TRANSFER = TransferConfig(
    multipart_threshold=PART_BYTES,
    multipart_chunksize=PART_BYTES,
    max_concurrency=1,
    use_threads=False,
)
# A store that does not answer must give 503 in seconds, not hang the request (and a worker).
CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=30,
    retries={"max_attempts": 3, "mode": "standard"},
    # Path-style addressing works with every S3-compatible server (virtual hosts need DNS).
    s3={"addressing_style": "path"},
)
READ_CHUNK = 64 * 1024
# Codes for an object (or a key) that is not there.
_MISSING = {"404", "NoSuchKey", "NotFound"}
# Stored names are random and never reused: the object may be cached for good.
CACHE_CONTROL = "public, max-age=31536000, immutable"


def normalized_prefix(prefix: str) -> str:
    """`uploads`, `/uploads/` -> `uploads/`; empty stays empty (keys at the bucket's root)."""
    prefix = prefix.strip().strip("/")
    return prefix + "/" if prefix else ""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


@dataclass
class StoredObject:
    """An object being read: its body (None for HEAD) and what the answer carries."""

    status: int  # 200 or 206
    size: int  # of the part sent
    etag: str
    last_modified: datetime | None
    content_range: str | None
    body: Any = None  # botocore StreamingBody

    def chunks(self) -> Iterator[bytes]:
        """The body in small chunks, closed at the end however the reader stops."""
        try:
            if self.body is not None:
                yield from self.body.iter_chunks(READ_CHUNK)
        finally:
            self.close()

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


class S3Storage(Temporaries):
    """Objects `<prefix><name>` in one bucket; temporaries on local disk under `tmp_dir`."""

    local = False

    def __init__(self, client: "S3Client", *, bucket: str, prefix: str, tmp_dir: Path) -> None:
        super().__init__(tmp_dir)
        self.client = client
        self.bucket = bucket
        self.prefix = normalized_prefix(prefix)

    @classmethod
    def connect(
        cls,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        tmp_dir: Path,
    ) -> "S3Storage":
        """A storage with its own client; credentials come from the standard AWS variables
        (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, ...)."""
        client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, region_name=region, config=CLIENT_CONFIG
        )
        return cls(client, bucket=bucket, prefix=prefix, tmp_dir=tmp_dir)

    def key(self, name: str) -> str:
        return self.prefix + name

    def _checked_key(self, name: str) -> str:
        if not safe_name(name):
            raise StoredFileNotFoundError()
        return self.key(name)

    def save(self, src: Path, name: str) -> None:
        if not safe_name(name):
            raise ValueError(f"refusing to store under unsafe name {name!r}")
        file_type = by_extension(Path(name).suffix)
        extra = {"CacheControl": CACHE_CONTROL}
        if file_type is not None:
            extra["ContentType"] = file_type.mime
            if not file_type.is_image:
                # What a browser gets when it fetches the object from the store (a presigned URL,
                # a CDN): documents download, as /files/ serves them.
                extra["ContentDisposition"] = "attachment"
        try:
            # An object appears whole or not at all: S3 puts (and completes multipart uploads)
            # atomically, and a failed multipart upload is aborted by the transfer manager.
            self.client.upload_file(
                str(src), self.bucket, self.key(name), ExtraArgs=extra, Config=TRANSFER
            )
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            raise self._unavailable("store", name, exc) from exc
        Path(src).unlink(missing_ok=True)

    def open(self, name: str) -> BinaryIO:
        return cast(BinaryIO, self.get(name).body)

    def get(
        self,
        name: str,
        *,
        byte_range: str | None = None,
        head: bool = False,
    ) -> StoredObject:
        """The object, or the range `bytes=a-b` of it (416: `RangeNotSatisfiableError`)."""
        key = self._checked_key(name)
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if byte_range:
            args["Range"] = byte_range
        try:
            answer: Any = (
                self.client.head_object(**args) if head else self.client.get_object(**args)
            )
        except ClientError as exc:
            code, status = _code(exc), _status(exc)
            if code in _MISSING or status == 404:
                raise StoredFileNotFoundError() from None
            if status == 416 or code == "InvalidRange":
                raise RangeNotSatisfiableError(self._size(key)) from None
            raise self._unavailable("read", name, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("read", name, exc) from exc
        content_range = answer.get("ContentRange")
        return StoredObject(
            206 if content_range else 200,
            int(answer.get("ContentLength", 0)),
            str(answer.get("ETag", "")),
            answer.get("LastModified"),
            content_range,
            None if head else answer.get("Body"),
        )

    def _size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except (BotoCoreError, ClientError):
            return None

    def delete(self, name: str) -> None:
        if not safe_name(name):
            logger.warning("delete of unsafe stored name %r ignored", name)
            return
        try:
            # Deleting a missing key succeeds on S3: deletes may be retried.
            self.client.delete_object(Bucket=self.bucket, Key=self.key(name))
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable("delete", name, exc) from exc

    def exists(self, name: str) -> bool:
        if not safe_name(name):
            return False
        try:
            self.get(name, head=True)
        except StoredFileNotFoundError:
            return False
        return True

    def url(self, name: str) -> str:
        return public_url(name)

    def path(self, name: str) -> Path:
        # Nothing is on local disk: /files/ streams from `get` instead.
        raise StoredFileNotFoundError()

    def signed_url(self, name: str, *, seconds: int) -> str:
        """A URL the store itself answers for `seconds` (presigning needs no request)."""
        key = self._checked_key(name)
        params = {"Bucket": self.bucket, "Key": key}
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def names(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if safe_name(name):
                        yield name
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable("list", self.prefix, exc) from exc

    def purge_temp(self, older_than_seconds: float = STALE_TEMP_SECONDS) -> int:
        """Local temporaries, and multipart uploads a crashed process left unfinished (their
        parts are stored, and billed, until aborted)."""
        removed = super().purge_temp(older_than_seconds)
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        removed += 1
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not sweep unfinished multipart uploads: %s", exc)
        return removed

    def _unavailable(self, what: str, name: str, exc: Exception) -> StorageUnavailableError:
        logger.error("object store: could not %s %s: %s", what, name, exc)
        return StorageUnavailableError()


class RangeNotSatisfiableError(Exception):
    """The Range asked for lies outside the object (`size` when the store told it)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size
