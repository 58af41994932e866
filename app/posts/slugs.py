"""Slugs: a post's name in URLs, made from its title (Unicode folded to ASCII by python-slugify).

Pure functions, used by the service and by migration 0010's backfill; claiming a slug for a post
in the database is app/posts/slug_claims.py.
"""

import re

from slugify import slugify

SLUG_MAX = 100
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# A title with nothing that folds to ASCII letters or digits (emoji only, say) still needs one.
FALLBACK = "post"
_SLUG = re.compile(SLUG_PATTERN)


def slug_base(title: str) -> str:
    return slugify(title, max_length=SLUG_MAX, word_boundary=True) or FALLBACK


def numbered(base: str, n: int) -> str:
    """`base-n`, shortened so the whole stays within SLUG_MAX."""
    suffix = f"-{n}"
    return base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix


def is_slug(value: str) -> bool:
    return len(value) <= SLUG_MAX and _SLUG.match(value) is not None
