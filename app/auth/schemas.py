"""Login, token and API key shapes."""

from datetime import datetime
from typing import Annotated

from pydantic import (
    ConfigDict,
    Field,
)

from app.core.schemas import ORMModel, Page, ResponseModel, StrictBody
from app.core.text import (
    GivenPassword,
    Password,
    SingleLine,
)
from app.users.schemas import Email, Name, UserPrivate

# Refresh, reset and verification tokens: opaque one-line strings.
TokenText = Annotated[str, SingleLine(2048, min_length=1)]


# --- auth ----------------------------------------------------------------------------------------


class LoginRequest(StrictBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "analytical-engine-1843"}]
        }
    )

    email: Email
    password: GivenPassword


class TokenPair(ResponseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")


class LoginResponse(TokenPair):
    user: UserPrivate


class OAuth2Token(ResponseModel):
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


class ApiKeyPage(Page[ApiKeyPublic]):
    """A page of API keys, named so in the schema (not `Page_ApiKeyPublic_`)."""
