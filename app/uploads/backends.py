"""The storage STORAGE_BACKEND names, built from the settings: the app (app/main.py) and the
CLI's storage-check (app/cli.py) open the same one."""

from app.core.config import Settings
from app.uploads.storage import TMP_DIR_NAME, LocalStorage, Storage


def storage_from_settings(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        # Imported only when used: boto3 takes a while to import, local disk needs none of it.
        from app.uploads.s3 import S3Storage

        if settings.s3_bucket is None:  # the settings refuse this; the check narrows the type
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return S3Storage.connect(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            tmp_dir=settings.upload_dir.resolve() / TMP_DIR_NAME,
        )
    return LocalStorage(settings.upload_dir)
