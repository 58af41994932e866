"""Posts as the API shows and takes them."""

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, ConfigDict, Field, StrictBool

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
Slug = Annotated[str, Field(max_length=100, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
TagName = Annotated[str, DisplayText(max_length=40, min_length=1)]
Tags = Annotated[list[TagName], Field(max_length=10)]
PublishedAt = AwareDatetime


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
    slug: Slug | None = None
    tags: Tags = Field(default_factory=list)
    published_at: PublishedAt | None = None


class PostUpdate(PartialUpdate):
    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "A better title"}]})

    title: Title | None = None
    content: Content | None = None
    published: Published | None = None
    slug: Slug | None = None
    tags: Tags | None = None
    published_at: PublishedAt | None = None


class PostPublic(ORMModel):
    id: int
    slug: str
    title: str
    content: str
    content_html: str
    excerpt: str
    reading_time_minutes: int
    tags: list[str]
    published: bool
    published_at: datetime | None
    author_id: int
    cover_image_url: str | None = None
    comment_count: int
    created_at: datetime
    updated_at: datetime


class PostWithAuthor(PostPublic):
    author: UserPublic


class PostPublicPage(Page[PostPublic]):
    """A page of posts, named so in the schema (not pydantic's `Page_PostPublic_`)."""


class PostWithAuthorPage(Page[PostWithAuthor]):
    """A page of posts with their authors, named so in the schema."""
