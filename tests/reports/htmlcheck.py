"""Parsing a generated page the way a browser would, to check what it really contains."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "h3",
    "p", "small", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td", "span", "i",
    "ul", "li", "pre", "code", "svg", "g", "rect", "line", "path", "circle", "text",
}  # fmt: skip
ALLOWED_ATTRS = {
    "lang", "charset", "name", "content", "http-equiv", "class", "style", "xmlns", "viewbox",
    "width", "height", "role", "aria-label", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r",
    "d", "fill", "stroke", "stroke-width", "text-anchor",
}  # fmt: skip


@dataclass
class Page(HTMLParser):
    tags: list[str] = field(default_factory=list)
    attrs: list[tuple[str, str, str | None]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def unexpected(page: Page) -> list[str]:
    """Tags and attributes a report never writes: a sign something leaked into the markup."""
    bad = [f"<{t}>" for t in page.tags if t not in ALLOWED_TAGS]
    bad += [f"{t} {k}={v!r}" for t, k, v in page.attrs if k not in ALLOWED_ATTRS]
    return bad
