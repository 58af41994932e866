"""The bench check for uploads to an object store (issue 14): a 50 MiB PDF uploaded to a server
with STORAGE_BACKEND=s3, against moto's S3 server on this machine; the server's RSS may rise at
most as much as for local disk (bench/checks.py big_upload)."""

from dataclasses import replace
from pathlib import Path

import boto3

from bench import checks, servers

MIB = 1024 * 1024
BUCKET = "quill-bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def s3_upload(
    credentials: dict[str, str], database_url: str, workdir: Path, cpu: str | None
) -> list[checks.Check]:
    moto = servers.start(
        "moto",
        ["-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"],
        {**servers.app_env(database_url, workdir)},
        workdir,
        cpu=None,
        probe="/moto-api/",
    )
    try:
        boto3.client(
            "s3",
            endpoint_url=moto.base,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket=BUCKET)
        env = servers.app_env(
            database_url,
            workdir,
            MAX_UPLOAD_BYTES=str(64 * MIB),
            UPLOAD_DIR=str(workdir / "s3-spool"),
            STORAGE_BACKEND="s3",
            S3_BUCKET=BUCKET,
            S3_PREFIX="bench/",
            S3_ENDPOINT_URL=moto.base,
            S3_REGION="us-east-1",
            **CREDENTIALS,
        )
        server = servers.start(
            "quill-s3", ["-m", "app", "serve"], env, workdir, cpu=cpu, probe="/health"
        )
        try:
            status, body = servers.request("POST", server.base + "/auth/login", body=credentials)
            if status != 200:
                raise RuntimeError(f"login on the S3 upload server failed: {status} {body}")
            found = checks.big_upload(server, body["access_token"])
            return [replace(found, name="50 MiB upload to S3 (moto): server RSS rise")]
        finally:
            server.stop()
    finally:
        moto.stop()
