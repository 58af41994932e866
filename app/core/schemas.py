"""Shapes every domain shares: strict request bodies, pages, the error envelope."""

from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

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
    loc: list[str | int] = Field(examples=[["body", "email"]], description="Path to the field")
    field: str = Field(examples=["body → email"], description="`loc` for display")
    message: str
    type: str


def _every_code(schema: dict[str, Any]) -> None:
    # Called when the OpenAPI schema is generated, after every domain registered its rows: the
    # enum is exactly what the server can send (app.core.errors.all_codes), never a copy of it.
    from app.core.errors import all_codes

    schema["enum"] = all_codes()


class ErrorResponse(BaseModel):
    """The one shape of every non-2xx answer."""

    success: Literal[False] = Field(examples=[False])
    code: str = Field(
        examples=["VALIDATION_FAILED"],
        description="Stable, UPPER_SNAKE_CASE: switch on it",
        json_schema_extra=_every_code,
    )
    message: str = Field(examples=["Validation failed"], description="For people")
    errors: list[ErrorItem] | None = Field(
        None, description="On every 422, and only there: what was wrong, field by field"
    )
    request_id: str = Field(description="The request's `X-Request-ID`, also in the server log")


class Message(BaseModel):
    message: str
    docs: str


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


class ResponseModel(BaseModel):
    """Base of answers: every field is always sent (null where it has no value), so the schema
    marks each one required; a generated client then types none of them optional."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class ORMModel(ResponseModel):
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
