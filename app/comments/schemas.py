"""Comments as the API shows and takes them."""

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict

from app.core.schemas import ORMModel, Page, StrictBody
from app.core.text import MultiLine
from app.users.schemas import UserPublic

# Tab, CR and LF allowed, no other control character; 1..5,000 characters, kept as sent.
Body = Annotated[str, MultiLine(5_000, min_length=1)]


class CommentCreate(StrictBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"body": "Nice post!"}]})

    body: Body


class CommentUpdate(StrictBody):
    """The new text: a comment has nothing else its author can change."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"body": "Nice post, thanks!"}]})

    body: Body


class CommentPublic(ORMModel):
    id: int
    post_id: int
    body: str
    author: UserPublic
    created_at: datetime
    updated_at: datetime


class CommentPage(Page[CommentPublic]):
    """A page of comments, named so in the schema (not pydantic's `Page_CommentPublic_`)."""
