"""The settings of a test run, in one place: `Settings` for the apps the tests build
(tests/conftest.py), and the same values as environment variables for the servers some tests
start in a process of their own (`run_environment`)."""

import os
import tempfile
from pathlib import Path

from app.core.config import Settings

TMP = Path(tempfile.mkdtemp(prefix="quill-tests-"))

# Field name -> value, as an environment variable would give it.
VALUES: dict[str, str] = {
    "database_url": os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{TMP / 'test.db'}",
    "environment": "test",
    "secret_key": "test-secret-key-that-is-long-enough-0123456789",
    "upload_dir": str(TMP / "uploads"),
    "request_log_file": str(TMP / "requests.log"),
    "login_log_file": str(TMP / "login_log.txt"),
    "mail_backend": "file",
    "mail_dir": str(TMP / "mail"),
    "cors_origins": "http://localhost:3000",
    # Tests log in and upload far more often than a person; tests/core/test_rate_limits.py
    # turns the limits on.
    "rate_limit_enabled": "false",
}


def run_settings() -> Settings:
    """The run's settings, from VALUES only: no `.env` and no variable of the caller's shell
    (TEST_DATABASE_URL aside) changes what the suite runs against."""
    return Settings.model_validate(VALUES)


def run_environment() -> dict[str, str]:
    """VALUES as environment variables, for a subprocess."""
    return {name.upper(): value for name, value in VALUES.items()}
