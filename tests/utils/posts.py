"""Creating posts over HTTP."""

from fastapi.testclient import TestClient


def make_post(client: TestClient, headers: dict, **fields: object) -> dict:
    body = {"title": "A title", "content": "Some content", **fields}
    response = client.post("/posts", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()
