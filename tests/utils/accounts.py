"""Logging in over HTTP: the password every test user has, and bearer headers."""

from fastapi.testclient import TestClient

PASSWORD = "correct-horse-battery"


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
