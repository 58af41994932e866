"""What account changes can fail with."""

from app.core.errors import ConflictError, DomainError, PermissionDeniedError, register


class EmailTakenError(ConflictError):
    message = "Email already registered"


class WrongPasswordError(DomainError):
    message = "Current password is incorrect"


class ReauthRequiredError(PermissionDeniedError):
    """Changing the email takes the current password: a stolen token alone must not suffice."""

    message = "Confirm this change with your current password (`current_password`)"


register(EmailTakenError, 409, "EMAIL_TAKEN")
register(WrongPasswordError, 400, "INVALID_CURRENT_PASSWORD")
register(ReauthRequiredError, 403, "REAUTH_REQUIRED")
