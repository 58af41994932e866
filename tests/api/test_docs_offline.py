"""/docs and /redoc load everything from this server: no CDN, no web fonts (issue 11, 1).

A headless browser renders /docs in .ci/docs-check; this is the fast half: the pages name only
local assets, and each of those answers with the type a nosniff browser will accept.
"""

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

EXPECTED_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
}


class _AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "spec-url"} and value:
                self.urls.append(value)


def _asset_urls(page: str) -> list[str]:
    parser = _AssetLinks()
    parser.feed(page)
    return parser.urls


@pytest.mark.parametrize(
    ("path", "must_load"),
    [
        ("/docs", {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"}),
        ("/redoc", {"/docs/assets/redoc.standalone.js"}),
    ],
)
def test_docs_pages_reference_only_local_assets(
    client: TestClient, path: str, must_load: set[str]
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    # No absolute or protocol-relative URL anywhere: not in a tag, not in the inline script.
    assert "://" not in page
    urls = _asset_urls(page)
    assert must_load <= set(urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
    # The browser enforces it too: anything from another origin is refused.
    assert "default-src 'self'" in response.headers["content-security-policy"]

    for url in urls:
        if url == "/openapi.json":
            continue
        asset = client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["content-type"].split(";")[0] == EXPECTED_TYPES[suffix], url
        assert asset.content


def test_swagger_ui_points_at_the_schema_and_its_oauth2_redirect(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "url: '/openapi.json'" in page
    assert "'/docs/oauth2-redirect'" in page
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "oauth2" in redirect.text.lower()
    assert "://" not in redirect.text


def test_docs_assets_serve_nothing_else(client: TestClient) -> None:
    assert client.get("/docs/assets/missing.js").status_code == 404
    assert client.get("/docs/assets/../core.py").status_code == 404
    # The pages stay out of the schema the clients are generated from.
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)
