"""Uploads as the API shows them."""

from datetime import datetime

from pydantic import (
    BaseModel,
    Field,
)

from app.core.schemas import ORMModel, Page

# --- uploads -------------------------------------------------------------------------------------


class UploadPublic(ORMModel):
    id: int
    filename: str = Field(description="The stored name: random, with the detected type's extension")
    original_name: str = Field(description="The client's filename, kept as data only")
    description: str | None
    content_type: str = Field(description="Detected from the bytes, not from the client")
    size: int
    url: str
    created_at: datetime


class UploadBatch(BaseModel):
    uploaded: int
    files: list[UploadPublic]


class UploadPage(Page[UploadPublic]):
    """A page of uploads, named so in the schema (not `Page_UploadPublic_`)."""
