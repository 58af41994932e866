"""Logging in over HTTP: the password every test user has, and bearer headers."""

from typing import Any

from fastapi.testclient import TestClient

PASSWORD = "correct-horse-battery"


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """The token pair (and user) of a JSON login that must succeed."""
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
