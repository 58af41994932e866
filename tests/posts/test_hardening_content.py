"""The contract's 100,000 characters of content fit on every database, four-byte ones included
(MariaDB's TEXT stops at 65,535 bytes)."""

import json


def _post(client, headers: dict[str, str], content: str):
    body = json.dumps({"title": "Long", "content": content}, ensure_ascii=False).encode()
    return client.post(
        "/posts", content=body, headers={**headers, "Content-Type": "application/json"}
    )


def test_content_of_100000_four_byte_characters_fits(user_client) -> None:
    client, _user, headers = user_client
    content = "😀" * 100_000
    created = _post(client, headers, content)
    assert created.status_code == 201, created.text[:300]
    read = client.get(f"/posts/{created.json()['id']}", headers=headers)
    assert read.status_code == 200
    assert read.json()["content"] == content


def test_content_over_100000_characters_is_422(user_client) -> None:
    client, _user, headers = user_client
    response = _post(client, headers, "😀" * 100_001)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"
