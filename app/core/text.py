"""Text rules for every string a client sends, as reusable `Annotated` types.

One place decides which characters a field may hold, so JSON bodies, query parameters and form
fields agree, and every database answers the same 422 (PostgreSQL refuses NUL in text with an
error; MariaDB and SQLite store it). The contract ("Limits"): no control characters anywhere
(tab, CR and LF only in multi-line text: content, bio, comment bodies), no bidi overrides or
isolates in names, titles and tags (they make a name display as something it is not), and no lone
surrogates (no database encoding can store one).
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetCoreSchemaHandler, StringConstraints
from pydantic_core import PydanticCustomError, core_schema

# Cc is exactly C0 (U+0000–U+001F), DEL and C1 (U+007F–U+009F).
_CONTROL = "\x00-\x1f\x7f-\x9f"
_CONTROL_EXCEPT_TAB_CR_LF = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_SURROGATE = "\ud800-\udfff"
# Embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069).
_BIDI = "\u202a-\u202e\u2066-\u2069"

_SINGLE_LINE = re.compile(f"[{_CONTROL}{_SURROGATE}]")
_MULTI_LINE = re.compile(f"[{_CONTROL_EXCEPT_TAB_CR_LF}{_SURROGATE}]")
_DISPLAY = re.compile(f"[{_CONTROL}{_SURROGATE}{_BIDI}]")


def _check(value: str, forbidden: re.Pattern[str]) -> str:
    found = forbidden.search(value)
    if found is None:
        return value
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        kind = "surrogate"
    elif char >= "\u202a":
        kind = "bidi_control"
    else:
        kind = "control"
    raise PydanticCustomError(
        f"{kind}_character",
        "must not contain {what} characters (found U+{code})",
        {"what": kind.replace("_", " "), "code": f"{ord(char):04X}"},
    )


def single_line(value: str) -> str:
    """No control characters at all (passwords, tokens, search text)."""
    return _check(value, _SINGLE_LINE)


def multi_line(value: str) -> str:
    """Tab, CR and LF allowed; other control characters not (content, bio, comment bodies)."""
    return _check(value, _MULTI_LINE)


def display_name(value: str) -> str:
    """One line, no bidi controls (names, titles, tags, API key names)."""
    return _check(value, _DISPLAY)


def normalize_email(value: str) -> str:
    """The one form an address is stored and compared in: NFC, lower-cased (then NFC again, as
    lower-casing can leave a combining sequence)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())


def _checked(check: Callable[[str], str]) -> BeforeValidator:
    # A before-validator runs ahead of the constraints it wraps (listed after them, so they stay
    # on the str schema and report in their own words): "Bob\n" is refused, not trimmed to "Bob".
    def run(value: object) -> object:
        return check(value) if isinstance(value, str) else value

    return BeforeValidator(run)


# --- the types fields use ------------------------------------------------------------------------
# Functions of the length limits, so each field states its own and every check runs on the raw
# value, before stripping.


def display_text(min_length: int, max_length: int) -> Any:
    """A one-line display text (names, titles, tags): trimmed, no controls, no bidi overrides."""
    constraints = StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length
    )
    return Annotated[str, constraints, _checked(display_name)]


def multi_line_text(max_length: int, min_length: int = 0) -> Any:
    """Free text over several lines (content, bio, comment bodies)."""
    constraints = StringConstraints(min_length=min_length, max_length=max_length)
    return Annotated[str, constraints, _checked(multi_line)]


def single_line_text(max_length: int, min_length: int = 0) -> Any:
    """Any other one-line text: tokens, search text, passwords, form fields."""
    constraints = StringConstraints(min_length=min_length, max_length=max_length)
    return Annotated[str, constraints, _checked(single_line)]


@dataclass(frozen=True)
class _TextRule:
    """The same rules as the functions above, as `Annotated` metadata a type checker accepts:
    `Annotated[str, SingleLine(254)]` where `single_line_text(254)` is a call mypy cannot read."""

    max_length: int
    min_length: int = 0

    def annotated(self) -> Any:
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, _source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return handler.generate_schema(self.annotated())


class SingleLine(_TextRule):
    """`single_line_text(max_length, min_length)` as metadata."""

    def annotated(self) -> Any:
        return single_line_text(self.max_length, self.min_length)


class MultiLine(_TextRule):
    """`multi_line_text(max_length, min_length)` as metadata."""

    def annotated(self) -> Any:
        return multi_line_text(self.max_length, self.min_length)


class DisplayText(_TextRule):
    """`display_text(min_length, max_length)` as metadata (note: keywords read best here,
    `DisplayText(max_length=100, min_length=1)`)."""

    def annotated(self) -> Any:
        return display_text(self.min_length, self.max_length)


# What a login form calls a username: the email as typed, bounded like a stored address.
LoginEmail = Annotated[str, SingleLine(254), AfterValidator(normalize_email)]


# --- common passwords (ASVS 6.2.4) ---------------------------------------------------------------


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 most common passwords (from leaked password sets; MIT),
    lower-cased: `Password1` is as common as `password1`."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def is_common_password(password: str) -> bool:
    return password.lower() in common_passwords()


def not_common(password: str) -> str:
    if is_common_password(password):
        raise PydanticCustomError(
            "password_too_common", "is one of the most common passwords: choose another"
        )
    return password


# Any printable character (spaces included); 8..128; not on the common list.
Password = Annotated[str, SingleLine(128, min_length=8), AfterValidator(not_common)]
# A password being checked, not chosen: the list does not apply (old accounts may have one).
GivenPassword = Annotated[str, SingleLine(128, min_length=1)]
