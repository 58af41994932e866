"""What writing a post can fail with beyond the generic kinds, with its row in the error table."""

from app.core.errors import ConflictError, register


class SlugTakenError(ConflictError):
    """The slug asked for (on create or PATCH) belongs to another post: slugs are unique."""

    message = "This slug is taken by another post"


register(SlugTakenError, 409, "SLUG_TAKEN")
