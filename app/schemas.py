"""Pydantic request/response models: the API's shapes, apart from the tables."""

from pydantic import BaseModel, ConfigDict, Field


class StrictBody(BaseModel):
    """Base of every JSON request body: unknown fields are a 422, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


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
