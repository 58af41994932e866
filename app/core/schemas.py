"""Shapes every domain shares: strict request bodies, pages, the error envelope."""

from typing import ClassVar, Generic, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)


class StrictBody(BaseModel):
    """Base of every JSON request body: unknown fields are a 422, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PartialUpdate(StrictBody):
    """A PATCH body: fields may be left out, but only those in `nullable` may be sent as null."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        for field in self.model_fields_set - self.nullable:
            if getattr(self, field) is None:
                raise ValueError(f"{field} may be left out, but not null")
        return self


class ErrorItem(BaseModel):
    field: str = Field(examples=["body → email"])
    message: str
    type: str


class ErrorResponse(BaseModel):
    """The one shape of every non-2xx answer."""

    success: bool = Field(False, examples=[False])
    code: str = Field(examples=["VALIDATION_FAILED"], description="Stable, UPPER_SNAKE_CASE")
    message: str = Field(examples=["Validation failed"], description="For people")
    errors: list[ErrorItem] | None = Field(None, description="Present on 422 only")
    request_id: str | None = None


class Message(BaseModel):
    message: str
    docs: str


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Accepted(BaseModel):
    message: str


# --- pages ---------------------------------------------------------------------------------------


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    total: int
    page: int
    per_page: int
    total_pages: int
    has_next: bool
    has_prev: bool
