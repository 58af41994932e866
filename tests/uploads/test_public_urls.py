"""File URLs in answers: relative by default, absolute under PUBLIC_BASE_URL."""

import pytest

from app.core.config import Settings
from app.main import create_app
from tests.utils.files import image_bytes


def _upload_url(user_client) -> str:
    client, _user, headers = user_client
    response = client.post(
        "/uploads/image",
        headers=headers,
        files={"file": ("a.png", image_bytes("PNG"), "image/png")},
    )
    assert response.status_code == 201
    return str(response.json()["url"])


def test_file_urls_are_relative_by_default(user_client) -> None:
    url = _upload_url(user_client)
    assert url.startswith("/files/")
    assert user_client[0].get(url).status_code == 200


def test_file_urls_are_absolute_under_public_base_url(
    user_client, settings: Settings, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    # File URLs are built without a request at hand (ORM properties), so the base is the
    # process's: the last app created sets it.
    create_app(settings.model_copy(update={"public_base_url": "https://api.example.com"}))
    monkeypatch.setattr(settings, "public_base_url", "https://api.example.com")
    request.addfinalizer(lambda: create_app(settings))
    url = _upload_url(user_client)
    assert url.startswith("https://api.example.com/files/")
    client, _user, headers = user_client
    me = client.post(
        "/users/me/avatar",
        headers=headers,
        files={"file": ("a.png", image_bytes("PNG"), "image/png")},
    ).json()
    assert me["avatar_url"].startswith("https://api.example.com/files/")
    # What the URL names is served by this API.
    assert client.get(url.removeprefix("https://api.example.com")).status_code == 200


def test_public_base_url_loses_a_trailing_slash_and_empty_is_unset() -> None:
    assert Settings(
        environment="test", public_base_url="https://cdn.example.com/"
    ).public_base_url == ("https://cdn.example.com")
    assert Settings(environment="test", public_base_url="").public_base_url is None


def test_hash_concurrency_is_a_setting(settings: Settings) -> None:
    from app.core import security
    from app.main import create_app

    assert Settings(environment="test", hash_concurrency=3).hash_concurrency == 3
    assert Settings(environment="test", hash_concurrency="").hash_concurrency is None
    create_app(settings.model_copy(update={"hash_concurrency": 3}))
    try:
        assert security.hash_concurrency() == 3
    finally:
        create_app(settings)
    assert security.hash_concurrency() == security.DEFAULT_HASH_CONCURRENCY
