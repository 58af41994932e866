"""Creating posts over HTTP."""

from typing import Any

from fastapi.testclient import TestClient


def make_post(client: TestClient, headers: dict[str, str], **fields: object) -> dict[str, Any]:
    body = {"title": "A title", "content": "Some content", **fields}
    response = client.post("/posts", headers=headers, json=body)
    assert response.status_code == 201, response.text
    post: dict[str, Any] = response.json()
    return post
