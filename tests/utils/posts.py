"""Creating posts over HTTP."""

from typing import Any
from uuid import uuid4

from fastapi.testclient import TestClient

from app.posts.models import Post
from app.posts.service import new_post


def make_post(client: TestClient, headers: dict[str, str], **fields: object) -> dict[str, Any]:
    body = {"title": "A title", "content": "Some content", **fields}
    response = client.post("/posts", headers=headers, json=body)
    assert response.status_code == 201, response.text
    post: dict[str, Any] = response.json()
    return post


def post_row(
    author_id: int, title: str = "t", content: str = "c", *, published: bool = False, **fields: Any
) -> Post:
    """A post to add to a session directly (no HTTP), with a slug of its own."""
    post = new_post(
        author_id=author_id,
        slug=f"post-{uuid4().hex[:12]}",
        title=title,
        content=content,
        published=published,
    )
    for name, value in fields.items():
        setattr(post, name, value)
    return post
