"""Markdown as readers get it: content_html sanitised against the OWASP filter-evasion classics
(checked by parsing the HTML, not by looking for substrings), the excerpt and the reading time."""

import html
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.posts.markdown import EXCERPT_CHARS, render
from app.users.models import User
from tests.utils.accounts import bearer, login
from tests.utils.posts import make_post

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://x.example/xss.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[click](&#x6A;avascript&#x3A;alert(1))",
    "[click](jav&#x09;ascript:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](java\u0000script:alert(1))",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "[ref][x]\n\n[x]: javascript:alert(1)",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<data:text/html,<script>alert(1)</script>>",
    "[vb](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    '<iframe src="http://x.example"></iframe>',
    "<svg onload=alert(1)>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<object data="x.swf"></object>',
    '<embed src="x.swf">',
    '<form action="http://x.example"><input name=a></form>',
    '<a href="javascript:alert(1)">x</a>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<body onload=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '[x](http://ok.example "title" onmouseover=alert(1))',
    "```html\n<script>alert(1)</script>\n```",
]
DANGEROUS_TAGS = {
    "script", "iframe", "svg", "style", "object", "embed", "form", "input", "meta", "link",
    "base", "body", "math", "frame", "frameset", "applet",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "background"}
SAFE_SCHEMES = {"", "http", "https", "mailto"}


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def active_parts(markup: str) -> list[str]:
    parser = Elements()
    parser.feed(markup)
    parser.close()
    problems = []
    for tag, attrs in parser.found:
        if tag in DANGEROUS_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                problems.append(f"{tag}[{name}]")
            if name in URL_ATTRIBUTES and value is not None:
                # As a browser would: entities decoded (the parser did), whitespace and controls
                # inside the scheme ignored, case folded.
                squeezed = "".join(ch for ch in html.unescape(value) if ch > " ").lower()
                if urlsplit(squeezed).scheme not in SAFE_SCHEMES:
                    problems.append(f"{tag}[{name}]={value}")
    return problems


@pytest.fixture
def author(client: TestClient, make_user: Callable[..., User]) -> dict[str, str]:
    user = make_user("writer@example.com", name="Writer")
    return bearer(login(client, user.email)["access_token"])


def test_the_checker_sees_active_markup() -> None:
    """The checker itself: it must flag what the sanitiser is meant to remove."""
    assert active_parts('<a href="JaVa&#x09;Script:x">a</a>') == ["a[href]=JaVa\tScript:x"]
    assert active_parts("<img src=x onerror=y>") == ["img[onerror]"]
    assert active_parts("<svg onload=x>") == ["<svg>", "svg[onload]"]
    assert active_parts('<a href="https://ok.example">a</a>') == []


@pytest.mark.parametrize("attack", ATTACKS)
def test_content_html_has_nothing_active(
    client: TestClient, author: dict[str, str], attack: str
) -> None:
    content = f"Before\n\n{attack}\n\nAfter"
    response = client.post("/posts", headers=author, json={"title": "x", "content": content})
    if response.status_code == 422:  # a NUL in content is refused outright: nothing stored
        assert "\x00" in attack
        return
    assert response.status_code == 201, response.text
    rendered = response.json()["content_html"]
    assert active_parts(rendered) == [], rendered
    assert "After" in rendered  # the rest of the post survives


def test_safe_markdown_keeps_its_shape(client: TestClient, author: dict[str, str]) -> None:
    content = (
        "# Title\n\n*em* **strong** [link](https://ok.example) ![alt](https://ok.example/i.png)"
    )
    post = make_post(client, author, content=content)
    rendered = post["content_html"]
    assert "<h1>Title</h1>" in rendered and "<em>em</em>" in rendered
    assert 'href="https://ok.example"' in rendered
    assert 'rel="noopener noreferrer nofollow"' in rendered
    assert 'src="https://ok.example/i.png"' in rendered


def test_excerpt_is_plain_text_cut_at_a_word(client: TestClient, author: dict[str, str]) -> None:
    short = make_post(client, author, content="# Hi\n\nSome *plain* `text` &amp; more.")
    assert short["excerpt"] == "Hi Some plain text & more."
    long_text = " ".join(f"word{i}" for i in range(100))
    post = make_post(client, author, content=f"**{long_text}**")
    excerpt = post["excerpt"]
    assert excerpt.endswith("…") and len(excerpt) <= EXCERPT_CHARS + 1
    assert "<" not in excerpt and "*" not in excerpt
    assert long_text.startswith(excerpt[:-1])
    assert excerpt[:-1].split()[-1] in long_text.split()  # cut between words, not inside one


@pytest.mark.parametrize(
    ("words", "minutes"), [(0, 1), (1, 1), (230, 1), (460, 2), (2300, 10), (2415, 11), (2645, 12)]
)
def test_reading_time(words: int, minutes: int) -> None:
    assert render(" ".join(["word"] * words)).reading_time_minutes == minutes


def test_reading_time_over_http(client: TestClient, author: dict[str, str]) -> None:
    post = make_post(client, author, content=" ".join(["word"] * 1000))
    assert post["reading_time_minutes"] == 4
    changed = client.patch(f"/posts/{post['id']}", headers=author, json={"content": "short"})
    assert changed.json()["reading_time_minutes"] == 1 and changed.json()["excerpt"] == "short"
