"""Pydantic request/response models: the API's shapes, apart from the tables."""

from datetime import datetime
from typing import Annotated, ClassVar, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.text import (
    GivenPassword,
    Password,
    display_text,
    multi_line_text,
    normalize_email,
    single_line_text,
)

# Emails are stored and compared in one form (NFC, lower-cased), so one address is one account on
# every database; 254 is the longest address SMTP allows.
Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(normalize_email)]
Name = display_text(1, 100)
Bio = multi_line_text(500)
# Refresh, reset and verification tokens: opaque one-line strings.
TokenText = single_line_text(2048, min_length=1)


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


# --- users ---------------------------------------------------------------------------------------


class UserPublic(ORMModel):
    """Another user as anyone sees them: never the email."""

    id: int
    name: str
    bio: str | None
    avatar_url: str | None = None
    created_at: datetime


class UserPrivate(UserPublic):
    """Yourself."""

    email: str
    email_verified: bool
    is_admin: bool


class UserCreate(StrictBody):
    email: Email
    password: Password
    name: Name

    @model_validator(mode="after")
    def _password_is_not_the_email(self) -> Self:
        if password_is_email(self.password, self.email):
            raise PydanticCustomError("password_equals_email", "password must not be the email")
        return self


def password_is_email(password: str, email: str) -> bool:
    return normalize_email(password) == normalize_email(email)


class UserUpdate(PartialUpdate):
    nullable = frozenset({"bio"})

    name: Name | None = None
    bio: Bio | None = None
    email: Email | None = None
    current_password: GivenPassword | None = Field(
        None, description="Needed to change `email` (`403 REAUTH_REQUIRED` without it)"
    )


class PasswordChange(StrictBody):
    current_password: GivenPassword
    new_password: Password


# --- auth ----------------------------------------------------------------------------------------


class LoginRequest(StrictBody):
    email: Email
    password: GivenPassword


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")


class LoginResponse(TokenPair):
    user: UserPrivate


class OAuth2Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


class RefreshRequest(StrictBody):
    refresh_token: TokenText


class EmailRequest(StrictBody):
    email: Email


class ResetPasswordRequest(StrictBody):
    token: TokenText
    new_password: Password


class TokenRequest(StrictBody):
    token: TokenText


class Accepted(BaseModel):
    message: str


# --- API keys ------------------------------------------------------------------------------------


class ApiKeyCreate(StrictBody):
    name: Name


class ApiKeyPublic(ORMModel):
    id: int
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it")
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself. Shown once: store it now.")


# --- posts ---------------------------------------------------------------------------------------

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
