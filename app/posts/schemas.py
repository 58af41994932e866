"""Posts as the API shows and takes them."""

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, StrictBool

from app.core.schemas import ORMModel, Page, PartialUpdate, StrictBody
from app.core.text import (
    DisplayText,
    MultiLine,
)
from app.users.schemas import UserPublic

# --- posts ---------------------------------------------------------------------------------------

Title = Annotated[str, DisplayText(max_length=200, min_length=1)]
Content = Annotated[str, MultiLine(100_000)]


# A JSON boolean, not `0` or `"yes"`: what the schema says is what is accepted.
Published = StrictBool


class PostCreate(StrictBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"title": "Hello, Quill", "content": "# Hi\n\nMy *first* post.", "published": True}
            ]
        }
    )

    title: Title
    content: Content
    published: Published = False


class PostUpdate(PartialUpdate):
    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "A better title"}]})

    title: Title | None = None
    content: Content | None = None
    published: Published | None = None


class PostPublic(ORMModel):
    id: int
    title: str
    content: str
    published: bool
    author_id: int
    cover_image_url: str | None = None
    created_at: datetime
    updated_at: datetime


class PostWithAuthor(PostPublic):
    author: UserPublic


class PostPublicPage(Page[PostPublic]):
    """A page of posts, named so in the schema (not pydantic's `Page_PostPublic_`)."""


class PostWithAuthorPage(Page[PostWithAuthor]):
    """A page of posts with their authors, named so in the schema."""
