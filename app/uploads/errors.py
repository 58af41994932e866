"""Every error an upload can end in, with its row in the error table, in one place.

`media` (what the bytes are) and `multipart` (how they arrive) raise these; routes can list them
here when documenting their error responses.
"""

from app.core.errors import DomainError, error_item, register


class UnsupportedMediaTypeError(DomainError):
    message = "Unsupported file type: allowed are JPEG, PNG, WebP and GIF images"


class ImageTooLargeError(DomainError):
    message = "The image's pixel dimensions are too large"


class FileTooLargeError(DomainError):
    message = "File is too large"


class QuotaExceededError(DomainError):
    message = "Your stored files would exceed your storage quota"


class FormError(DomainError):
    """A 422 about the form: it carries `errors` naming the field, like any other bad field."""

    kind = "invalid_form"

    def __init__(self, message: str | None = None, *, field: str):
        super().__init__(message)
        self.errors = [error_item(("body", field), self.kind, self.message)]


class TooManyFilesError(FormError):
    message = "Too many files"
    kind = "too_many_files"


class NoFileError(FormError):
    message = "No file was uploaded"
    kind = "missing"


class FormFieldError(FormError):
    """A form part the endpoint does not accept: unknown, repeated, too long or wrong kind."""

    message = "Invalid form field"
    kind = "invalid_form_field"


class MalformedMultipartError(FormError):
    message = "The multipart body is malformed"
    kind = "malformed_multipart"


register(UnsupportedMediaTypeError, 415, "UNSUPPORTED_MEDIA_TYPE")
register(ImageTooLargeError, 413, "IMAGE_TOO_LARGE")
register(FileTooLargeError, 413, "FILE_TOO_LARGE")
register(QuotaExceededError, 413, "QUOTA_EXCEEDED")
register(TooManyFilesError, 422, "TOO_MANY_FILES")
register(NoFileError, 422, "NO_FILE")
# 422 like every other malformed body here (FastAPI answers broken JSON with 422 too).
register(FormFieldError, 422, "INVALID_FORM_FIELD")
register(MalformedMultipartError, 422, "MALFORMED_MULTIPART")


class StorageUnavailableError(DomainError):
    """The object store (STORAGE_BACKEND=s3) did not answer, or refused us: nothing was stored."""

    message = "File storage is unavailable, try again later"

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"Retry-After": "5"})


register(StorageUnavailableError, 503, "STORAGE_UNAVAILABLE")
