"""Settings: names from the contract, production guards, CORS list parsing."""

import os
import stat
import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.core.config import Settings, describe

STRONG = "kR7vQ2xN9pL4mW8sT1yB6cF3hJ5dG0aZ"


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # development writes its generated key file here
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
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str], tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)  # development writes its generated key file here
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
    monkeypatch.setenv("MAIL_BACKEND", "file")  # not the guarded console default
    monkeypatch.setenv("CORS_ORIGINS", "*")
    with pytest.raises(ValidationError, match="CORS_ORIGINS"):
        Settings(_env_file=None)
    monkeypatch.setenv("CORS_ORIGINS", "https://blog.example")
    monkeypatch.setenv("FRONTEND_URL", "https://blog.example")
    monkeypatch.setenv("ALLOWED_HOSTS", "api.blog.example")
    assert Settings(_env_file=None).secret_key == STRONG


def test_production_start_fails_with_one_line_reason(tmp_path) -> None:
    env = {**os.environ, "ENVIRONMENT": "production", "SECRET_KEY": "short"}
    result = subprocess.run(
        [sys.executable, "-c", "from app.main import app"],
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


def _production(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """A production environment that passes every guard, then `env` on top."""
    values = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": STRONG,
        "CORS_ORIGINS": "https://blog.example",
        "FRONTEND_URL": "https://blog.example",
        "ALLOWED_HOSTS": "api.blog.example",
        "MAIL_BACKEND": "smtp",
    }
    for name, value in {**values, **env}.items():
        monkeypatch.setenv(name, value)


def test_production_accepts_a_sound_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch)
    settings = Settings(_env_file=None)
    assert settings.allowed_hosts == ["api.blog.example"]
    _production(monkeypatch, SECRET_KEY="3f9a1c07b2e84d65a0c9f1e27b84d3a6")  # 32 hex digits
    Settings(_env_file=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", "a" * 64),
        ("SECRET_KEY", "changemechangemechangemechangeme"),
        ("SECRET_KEY", "my-password-password-password-123"),
        ("SECRET_KEY", "SecretSecretSecretSecretSecret1234"),
        ("SECRET_KEY", "abcabcabcabcabcabcabcabcabcabcabcabc"),
        ("SECRET_KEY", "1212121212121212121212121212121234"),
        ("SECRET_KEY", "aabbccaabbccddaabbccaabbccddaabbcc"),
        ("CORS_ORIGINS", "null"),
        ("CORS_ORIGINS", "https://blog.example,*"),
        ("CORS_ORIGINS", "http://blog.example"),
        ("FRONTEND_URL", "http://blog.example"),
        ("MAIL_BACKEND", "console"),
        ("ALLOWED_HOSTS", "*"),
        ("ALLOWED_HOSTS", '["api.blog.example", "*"]'),
    ],
)
def test_production_refuses_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    _production(monkeypatch, **{name: value})
    with pytest.raises(ValidationError, match=name) as failure:
        Settings(_env_file=None)
    assert len(describe(failure.value).splitlines()) == 1


def test_development_key_is_generated_once_and_shared(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first, second = Settings(_env_file=None), Settings(_env_file=None)
    assert first.secret_key and first.secret_key == second.secret_key
    key_file = tmp_path / ".quill-secret-key"
    assert key_file.read_text().strip() == first.secret_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".quill-secret-key"]  # no temporaries left


def test_development_key_agreed_by_workers_starting_at_once(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["ENVIRONMENT"] = "development"
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from app.core.config import get_settings as s; print(s().secret_key)",
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    keys = {worker.communicate(timeout=60)[0].strip() for worker in workers}
    assert len(keys) == 1 and len(keys.pop()) >= 32
    assert (tmp_path / ".quill-secret-key").exists()
