"""What signing in and authorising can fail with."""

from app.core.errors import DomainError, NotAuthenticatedError, PermissionDeniedError, register


class InvalidCredentialsError(NotAuthenticatedError):
    message = "Incorrect email or password"


class InvalidTokenError(NotAuthenticatedError):
    message = "Invalid or expired token"


class InvalidActionTokenError(DomainError):
    """A reset or verification link that is expired, used, tampered with or for another purpose."""

    message = "Invalid or expired token"


class AdminRequiredError(PermissionDeniedError):
    message = "Administrator rights required"


class ApiKeyNotAllowedError(PermissionDeniedError):
    """An API key calls the API, but managing credentials takes a bearer token (a login)."""

    message = "This needs a bearer token: API keys cannot manage credentials"


class MailThrottledError(DomainError):
    message = "Too many mails to this address, try again later"

    def __init__(self, retry_after_seconds: int):
        super().__init__(headers={"Retry-After": str(retry_after_seconds)})


class TooManyLoginAttemptsError(DomainError):
    message = "Too many failed login attempts, try again later"

    def __init__(self, retry_after_seconds: int):
        super().__init__(headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after = retry_after_seconds


register(InvalidCredentialsError, 401, "INVALID_CREDENTIALS")
register(InvalidTokenError, 401, "INVALID_TOKEN")
register(InvalidActionTokenError, 400, "INVALID_OR_EXPIRED_TOKEN")
register(AdminRequiredError, 403, "ADMIN_REQUIRED")
register(ApiKeyNotAllowedError, 403, "API_KEY_NOT_ALLOWED")
register(TooManyLoginAttemptsError, 429, "TOO_MANY_LOGIN_ATTEMPTS")
register(MailThrottledError, 429, "MAIL_THROTTLED")
