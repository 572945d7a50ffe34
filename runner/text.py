"""User- and server-provided strings made safe for where they are shown.

This module owns the renderings of untrusted text: `line` for one terminal line (every
control character, newlines included, shown as an escape such as `\\x1b` or `\\n`, so no
escape sequence, OSC 8 hyperlink, clear screen, BEL or backspace reaches a terminal and no
value can start a line of its own), `block` for terminal text of several lines (newlines
kept), `markdown` and `markdown_code` for Markdown that renders as itself (no HTML, no
Markdown syntax, no `@mention` and no autolink, also inside escaped link syntax), and
`slack` for a Slack message (no `<!channel>` or `<url|link>` of a value's), and `xml` for
text in XML (JUnit). Every rendering masks secrets first (`runner.redact`).
`LogFilter` does the same for log lines (their messages are a `block`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from runner import redact

# C0 and C1 controls, DEL, and the invisible characters that reorder or hide text
# (bidi embeddings, overrides and isolates, zero-width characters, line separators).
_UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
_LINE_UNSAFE = re.compile(f"[{_UNSAFE}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

ZWSP = "&#8203;"
"""A zero-width space as an HTML entity: breaks a mention or an autolink in Markdown,
invisible once rendered (the way Dependabot and Renovate quote @names)."""
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")
_MD_ORDERED = re.compile(r"\d{1,9}(?=[.)](\s|$))")
_MD_BLOCK = re.compile(r"[+-](\s|$)|[-=][-=\s]*$")
# What GitHub, GitLab and chat tools turn into a mention or a link by themselves.
_MD_LINKY = re.compile(r"(?i)(@|://|\bwww\.|\b(?:mailto|xmpp|tel|file|javascript|data):)")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def line(value: Any) -> str:
    """One terminal line: secrets masked, every control and invisible character escaped."""
    return _LINE_UNSAFE.sub(lambda m: _escape(m.group()), redact.text(str(value)))


def block(value: Any) -> str:
    """Terminal text of several lines: as `line`, but newlines (and tabs) are kept."""
    s = redact.text(str(value)).replace("\r\n", "\n")
    return _LINE_UNSAFE.sub(lambda m: m.group() if m.group() in "\n\t" else _escape(m.group()), s)


def markdown(value: Any) -> str:
    """Text that renders as itself in Markdown, on one line: secrets masked, controls
    escaped, HTML escaped, Markdown punctuation backslashed, and mentions and autolinks
    broken with an invisible zero-width space."""
    s = line(" ".join(redact.text(str(value)).split()))
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = _MD_LINKY.sub(_break_link, s)
    if m := _MD_ORDERED.match(s):  # "1. x" would start a list
        return f"{s[: m.end()]}\\{s[m.end() :]}"
    return f"\\{s}" if _MD_BLOCK.match(s) else s  # a list item or a rule


def markdown_code(value: Any) -> str:
    """A code span when the value can be one (no mention or link is made in code), else
    `markdown` text."""
    s = line(value)
    if not s or "`" in s or "|" in s or s != s.strip():
        return markdown(s)
    return f"`{s}`"


def slack(value: Any) -> str:
    """Text for a Slack message: as `block` (newlines kept), with `&`, `<` and `>` escaped as
    Slack asks, so no value can write `<!channel>`, `<@U123>` or `<https://x|a link>`."""
    return block(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml(value: Any) -> str:
    """Text for an XML attribute or element (JUnit): secrets masked, the characters XML 1.0
    cannot hold and terminal controls escaped; newlines kept."""
    s = block(value)
    return _XML_INVALID.sub(lambda m: _escape(m.group()), s)


class LogFilter(logging.Filter):
    """Renders a log record's message as a `block` (its arguments are merged in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = block(message)
        if safe != message or record.args:
            record.msg, record.args = safe, None
        return True


def install_log_filter(*handlers: logging.Handler) -> None:
    """Add a `LogFilter` to `handlers` (default: the root logger's handlers and the
    handler Python uses when none is configured)."""
    last = (logging.lastResort,) if logging.lastResort is not None else ()
    for handler in handlers or (*logging.getLogger().handlers, *last):
        if not any(isinstance(f, LogFilter) for f in handler.filters):
            handler.addFilter(LogFilter())


def _break_link(match: re.Match[str]) -> str:
    found = match.group()
    if found == "@":
        return "@" + ZWSP
    if found == "://":
        return ":" + ZWSP + "//"
    if found.lower() == "www.":
        return found[:3] + ZWSP + "."
    return found[:-1] + ZWSP + ":"
