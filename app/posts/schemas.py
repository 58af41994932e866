"""Posts as the API shows and takes them."""

from datetime import datetime
from typing import TYPE_CHECKING

from app.core.schemas import ORMModel, PartialUpdate, StrictBody
from app.core.text import (
    display_text,
    multi_line_text,
)
from app.users.schemas import UserPublic

# --- posts ---------------------------------------------------------------------------------------

if TYPE_CHECKING:  # the validators are built at run time; to a type checker they are text
    Title = str
    Content = str
else:
    Title = display_text(1, 200)
    Content = multi_line_text(100_000)


class PostCreate(StrictBody):
    title: Title
    content: Content
    published: bool = False


class PostUpdate(PartialUpdate):
    title: Title | None = None
    content: Content | None = None
    published: bool | None = None


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
