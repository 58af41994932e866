"""A real S3 API for the tests: moto's server in a process of its own on 127.0.0.1 (one per test
session), or the store `TEST_S3_ENDPOINT_URL` names (with `TEST_S3_BUCKET`, `TEST_S3_REGION` and
the standard AWS credential variables) instead of starting one.

`TEST_STORAGE_BACKEND=s3` makes the `storage` fixture (tests/conftest.py) an S3Storage here, so
the upload suite runs on the object store."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

from app.uploads.s3 import CLIENT_CONFIG, S3Storage
from tests.utils.servers import free_port

BACKEND = os.environ.get("TEST_STORAGE_BACKEND", "local")


@dataclass(frozen=True)
class S3Target:
    endpoint_url: str
    bucket: str
    region: str
    access_key: str
    secret_key: str

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=CLIENT_CONFIG,
        )

    def storage(self, tmp_dir: Path, prefix: str | None = None) -> S3Storage:
        """A storage of its own: a fresh key prefix, as each test gets its own upload folder."""
        prefix = prefix if prefix is not None else f"test-{uuid.uuid4().hex[:12]}/"
        return S3Storage(self.client(), bucket=self.bucket, prefix=prefix, tmp_dir=tmp_dir)

    def environment(self, prefix: str) -> dict[str, str]:
        """The settings of a server process storing here."""
        return {
            "STORAGE_BACKEND": "s3",
            "S3_BUCKET": self.bucket,
            "S3_PREFIX": prefix,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


def _from_environment() -> S3Target | None:
    endpoint = os.environ.get("TEST_S3_ENDPOINT_URL")
    if not endpoint:
        return None
    return S3Target(
        endpoint,
        os.environ.get("TEST_S3_BUCKET", "quill-tests"),
        os.environ.get("TEST_S3_REGION", "us-east-1"),
        os.environ.get("AWS_ACCESS_KEY_ID", ""),
        os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
    )


@contextmanager
def moto_server(log: Path, timeout: float = 30) -> Iterator[str]:
    """moto's S3 API on a free port of 127.0.0.1; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        # Our own interpreter and a port we chose: no input from outside.
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text(errors="replace")[-2000:])
            try:
                httpx.get(url + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def s3_target(workdir: Path) -> Iterator[S3Target]:
    """The store the tests use: from the environment, else a moto server started here with a
    bucket of its own."""
    given = _from_environment()
    if given is not None:
        yield given
        return
    with moto_server(workdir / "moto.log") as url:
        target = S3Target(url, "quill-tests", "us-east-1", "testing", "testing")
        target.client().create_bucket(Bucket=target.bucket)
        yield target


def unreachable_storage(tmp_dir: Path) -> S3Storage:
    """An S3Storage whose store does not answer (a port nothing listens on), tried once."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=CLIENT_CONFIG.merge(Config(connect_timeout=1, retries={"max_attempts": 1})),
    )
    return S3Storage(client, bucket="quill-tests", prefix="gone/", tmp_dir=tmp_dir)
