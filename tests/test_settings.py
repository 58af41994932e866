"""Settings: names from the contract, production guards, CORS list parsing."""

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.config import Settings

STRONG = "k" * 16 + "Zq9" * 10


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in Settings.model_fields or name.lower() in Settings.model_fields:
            monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.access_token_expire_minutes == 30
    assert settings.refresh_token_expire_days == 14
    assert settings.cors_origins == ["http://localhost:3000"]
    assert settings.max_upload_bytes == 5242880
    assert (settings.login_max_failures, settings.login_lockout_minutes) == (5, 15)
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    # Development generates a throwaway key rather than running unsigned.
    assert settings.secret_key and len(settings.secret_key) >= 32


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://a.test, http://b.test", ["http://a.test", "http://b.test"]),
        ('["http://a.test","http://b.test"]', ["http://a.test", "http://b.test"]),
    ],
)
def test_cors_origins_comma_or_json(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    assert Settings(_env_file=None).cors_origins == expected


@pytest.mark.parametrize("key", [None, "short", "changethis"])
def test_production_refuses_weak_secret(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    if key is not None:
        monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None)


def test_production_refuses_wildcard_cors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("CORS_ORIGINS", "*")
    with pytest.raises(ValidationError, match="CORS_ORIGINS"):
        Settings(_env_file=None)
    monkeypatch.setenv("CORS_ORIGINS", "https://blog.example")
    assert Settings(_env_file=None).secret_key == STRONG


def test_production_start_fails_with_one_line_reason(tmp_path) -> None:
    env = {**os.environ, "ENVIRONMENT": "production", "SECRET_KEY": "short"}
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0]
