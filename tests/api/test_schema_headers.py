"""Every answer the schema lists documents the headers every answer carries, and they are sent."""

from fastapi.testclient import TestClient

from app.api.documented import EVERY_ANSWER_HEADERS


def test_every_listed_answer_documents_the_common_headers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    missing = [
        (path, method, status)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if not set(EVERY_ANSWER_HEADERS) <= set(answer.get("headers", {}))
    ]
    assert missing == []


def test_the_documented_headers_are_sent(client: TestClient) -> None:
    for path in ("/", "/health", "/posts", "/openapi.json"):
        answer = client.get(path)
        assert all(name in answer.headers for name in EVERY_ANSWER_HEADERS), path
