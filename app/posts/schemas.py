"""Posts as the API shows and takes them."""

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Self

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from app.core.schemas import ORMModel, Page, PartialUpdate, StrictBody
from app.core.text import (
    DisplayText,
    MultiLine,
)
from app.posts.slugs import SLUG_MAX, SLUG_PATTERN
from app.users.schemas import UserPublic

# --- posts ---------------------------------------------------------------------------------------

Title = Annotated[str, DisplayText(max_length=200, min_length=1)]
Content = Annotated[str, MultiLine(100_000)]


# A JSON boolean, not `0` or `"yes"`: what the schema says is what is accepted.
Published = StrictBool
Slug = Annotated[str, Field(max_length=SLUG_MAX, pattern=SLUG_PATTERN)]
TAG_MAX = 40


def normalize_tag(name: str) -> str:
    """The one form a tag is stored, compared and matched in: NFC, lower-case, trimmed, each run
    of inner whitespace made one `-`. Lower-casing can lengthen a name (`İ` is two characters
    lower-cased), so the length is checked again on the result."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).lower())
    normal = "-".join(folded.split())
    if not 1 <= len(normal) <= TAG_MAX:
        raise PydanticCustomError(
            "tag_length", "a tag must be 1 to {max} characters once normalised", {"max": TAG_MAX}
        )
    return normal


def _unique(names: list[str]) -> list[str]:
    # Duplicates after normalisation (`Python`, ` python `) are one tag; first-seen order kept.
    return list(dict.fromkeys(names))


# DisplayText first: control characters and bidi overrides are refused, not normalised away.
TagName = Annotated[
    str, DisplayText(max_length=TAG_MAX, min_length=1), AfterValidator(normalize_tag)
]
Tags = Annotated[list[TagName], Field(max_length=10), AfterValidator(_unique)]
# What the database types hold on every backend (MariaDB's DATETIME starts at 1000); a time
# whose conversion to UTC leaves datetime's range is refused here, never a database error.
EARLIEST, LATEST = 1970, 9999


def _sane_moment(value: datetime) -> datetime:
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment.year <= LATEST:
        raise PydanticCustomError(
            "datetime_out_of_range",
            "must be between the years {earliest} and {latest}",
            {"earliest": EARLIEST, "latest": LATEST},
        )
    return moment


# Timezone-aware ISO 8601 (a naive time is a 422: its zone would be a guess), stored in UTC.
PublishedAt = Annotated[AwareDatetime, AfterValidator(_sane_moment)]
PUBLISHED_AT_NEEDS_PUBLISHED = "published_at needs published: true"


def _needs_published(published: bool | None, published_at: datetime | None) -> None:
    if published_at is not None and published is not True:
        raise PydanticCustomError("published_at_needs_published", PUBLISHED_AT_NEEDS_PUBLISHED)


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

    @model_validator(mode="after")
    def _publication(self) -> Self:
        _needs_published(self.published, self.published_at)
        return self


class PostUpdate(PartialUpdate):
    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "A better title"}]})

    title: Title | None = None
    content: Content | None = None
    published: Published | None = None
    slug: Slug | None = None
    tags: Tags | None = None
    published_at: PublishedAt | None = None

    @model_validator(mode="after")
    def _publication(self) -> Self:
        _needs_published(self.published, self.published_at)
        return self


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


# --- tags ----------------------------------------------------------------------------------------


class TagPublic(ORMModel):
    name: str
    post_count: int


class TagPage(Page[TagPublic]):
    """A page of tags, named so in the schema."""
