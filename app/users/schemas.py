"""Users as the API shows and takes them."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.core.schemas import ORMModel, Page, PartialUpdate, StrictBody
from app.core.text import (
    DisplayText,
    GivenPassword,
    MultiLine,
    Password,
    normalize_email,
)

# Emails are stored and compared in one form (NFC, lower-cased), so one address is one account on
# every database; 254 is the longest address SMTP allows.
Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(normalize_email)]
Name = Annotated[str, DisplayText(max_length=100, min_length=1)]
Bio = Annotated[str, MultiLine(500)]


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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "analytical-engine-1843", "name": "Ada"}
            ]
        }
    )

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
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Ada L.", "bio": None}]})

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


class UserPublicPage(Page[UserPublic]):
    """A page of public profiles, named so in the schema (not `Page_UserPublic_`)."""
