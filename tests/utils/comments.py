"""Comments in tests: writing one over HTTP, the people a comment test needs, and checking every
post's counter against its comments."""

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.posts.models import Post


@dataclass
class Person:
    id: int
    headers: dict[str, str]


def make_comment(
    client: TestClient, headers: dict[str, str], post_id: int, body: str = "A comment"
) -> dict[str, Any]:
    response = client.post(f"/posts/{post_id}/comments", headers=headers, json={"body": body})
    assert response.status_code == 201, response.text
    comment: dict[str, Any] = response.json()
    return comment


def count_mismatches(session: Session) -> dict[int, tuple[int, int]]:
    """Post id -> (comment_count, comments counted) for every post whose counter is wrong."""
    counted = (
        select(func.count(Comment.id))
        .where(Comment.post_id == Post.id)
        .correlate(Post)
        .scalar_subquery()
    )
    rows = session.execute(select(Post.id, Post.comment_count, counted)).all()
    return {post_id: (kept, real) for post_id, kept, real in rows if kept != real}
