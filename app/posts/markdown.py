"""A post's Markdown made into what readers get: sanitised HTML, plain-text excerpt, reading time.

markdown-it-py renders CommonMark (raw HTML in the source is escaped, not passed through); nh3
(ammonia) then keeps only an allow-list of tags, attributes and URL schemes, so whatever the
renderer lets through — a `javascript:` link, an event attribute — is removed before it is stored.
Both run when a post is written, never on a read.
"""

import html
import re
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt

EXCERPT_CHARS = 200
WORDS_PER_MINUTE = 230

_renderer = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},  # `language-x` from fenced blocks, for highlighters
}
URL_SCHEMES = {"http", "https", "mailto"}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Rendered:
    html: str
    excerpt: str
    reading_time_minutes: int


def sanitize(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(markup: str) -> str:
    """The words of sanitised HTML, whitespace collapsed."""
    return _SPACES.sub(" ", html.unescape(nh3.clean(markup, tags=set()))).strip()


def excerpt_of(text: str) -> str:
    """The first ~200 characters, cut at a word boundary, with an ellipsis when cut."""
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[:EXCERPT_CHARS]
    space = cut.rfind(" ")
    if space > EXCERPT_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def render(content: str) -> Rendered:
    body = sanitize(_renderer.render(content))
    text = plain_text(body)
    words = len(text.split())
    return Rendered(
        html=body,
        excerpt=excerpt_of(text),
        # Rounded half up in integers: round() rounds halves to even (10.5 -> 10, 11.5 -> 12).
        reading_time_minutes=max(1, (2 * words + WORDS_PER_MINUTE) // (2 * WORDS_PER_MINUTE)),
    )
