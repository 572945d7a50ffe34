"""Reading one YAML file into plain data plus the line:column of every key and value.

This module owns the way in from disk: size limit, bytes to text (UTF-8, a BOM allowed),
binary data and control characters refused with their position, YAML syntax errors
turned into issues, and the rest handed to `builder`. Nothing here raises anything but
`InvalidInputError`. A file that is not one of ours (`is_ours`) is never quoted in an
issue: a drill may name any path, and its content must not reach a CI log.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from runner.errors import InvalidInputError, Issue
from runner.scenario import builder
from runner.scenario.located import Key, Path_, Position, Source, format_path

__all__ = [
    "Key",
    "Path_",
    "Position",
    "Source",
    "format_path",
    "is_ours",
    "parse_bytes",
    "parse_text",
    "read",
]

API_GROUP = "drill-runner.dev/"
OUR_KINDS = ("Scenario", "Drill", "Recipe")
MAX_BYTES = 4 * 1024 * 1024
"""Larger files are refused unread: no scenario or drill is anywhere near this."""
# Characters YAML forbids in a stream (control characters other than tab and newlines).
_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def read(path: Path, display: str | None = None) -> Source:
    """Read and parse `path`; `display` is how the file is named in issues."""
    file = display if display is not None else str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise InvalidInputError([_issue(file, 1, 1, f"cannot read the file: {e.strerror}")]) from e
    except ValueError:  # a NUL character in the path
        raise InvalidInputError([_issue(file, 1, 1, "cannot read the file: bad path")]) from None
    if len(raw) > MAX_BYTES:
        msg = f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB"
        raise InvalidInputError([_issue(file, 1, 1, msg)])
    return parse_bytes(raw, file)


def parse_bytes(raw: bytes, file: str) -> Source:
    """Decode UTF-8 (a BOM is allowed) and parse; binary data is refused with its position."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, col = _offset_position(raw, nul)
        raise InvalidInputError(
            [_issue(file, line, col, "the file is binary (it holds NUL bytes)")]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line, col = _offset_position(raw, e.start)
        msg = f"the file is not UTF-8 text (byte 0x{raw[e.start]:02x})"
        raise InvalidInputError([_issue(file, line, col, msg)]) from None
    return parse_text(text, file)


def parse_text(text: str, file: str) -> Source:
    """Parse exactly one YAML document from `text`."""
    bad = _FORBIDDEN.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        msg = f"the file holds the control character U+{ord(bad.group()):04X}"
        raise InvalidInputError([_issue(file, line, col, msg)])
    try:
        return _parse(text, file, builder.Loader)
    except _ParserGaveUp:
        # libyaml stops at a nesting limit of its build (1000 flow levels in 0.2.5, none
        # before) and words its errors its own way: parse again with PyYAML's pure-Python
        # parser, which has no such limit, so that `builder.MAX_DEPTH` and the location of
        # every problem come from one implementation whichever libyaml is installed.
        return _parse(text, file, builder.PyLoader)


class _ParserGaveUp(Exception):
    """The fast parser reported a problem; the pure-Python one is asked to locate it."""


def _parse(text: str, file: str, loader_class: type[Any]) -> Source:
    found = builder.Builder(file)
    loader = loader_class(text)
    try:
        found.run(builder.events(loader))
    except yaml.YAMLError as e:
        if loader_class is not builder.PyLoader:
            raise _ParserGaveUp from None
        raise InvalidInputError([_yaml_issue(file, e)]) from None
    finally:
        loader.dispose()
    if found.issues:
        issues = found.issues
        if not is_ours(found.partial_root()):
            issues = [
                replace(issue, message=found.bare[i]) if i in found.bare else issue
                for i, issue in enumerate(issues)
            ]
        raise InvalidInputError(issues)
    return found.source


def _yaml_issue(file: str, e: yaml.YAMLError) -> Issue:
    if isinstance(e, yaml.MarkedYAMLError):
        mark = _where(e)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = e.problem or e.context or "not valid YAML"
        if mark is e.context_mark and e.problem and e.context:
            problem = f"{e.problem} ({e.context} that starts here)"
        return _issue(file, line, col, f"YAML syntax error: {problem}")
    return _issue(file, 1, 1, f"YAML error: {e}")  # reader errors carry no mark


def _where(e: yaml.MarkedYAMLError) -> Any:
    """Where the mistake is: libyaml often notices it only at the start of the next line
    (a key without its colon, an unclosed quote or bracket); then the construct it was
    reading, which starts on an earlier line, is where the mistake is."""
    problem, context = e.problem_mark, e.context_mark
    if problem is None:
        return context
    if context is not None and problem.column == 0 and context.line < problem.line:
        return context
    if context is not None and e.problem and "could not find expected ':'" in e.problem:
        return context
    return problem


def is_ours(data: object) -> bool:
    """Does this data say it is a scenario or a drill (so its content may be quoted)?"""
    if not isinstance(data, dict):
        return False
    api = data.get("apiVersion")
    return data.get("kind") in OUR_KINDS or (isinstance(api, str) and api.startswith(API_GROUP))


def _issue(file: str, line: int, column: int, message: str) -> Issue:
    return Issue(file=file, line=line, column=column, field="", message=message)


def _offset_position(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    start = raw.rfind(b"\n", 0, offset) + 1
    return line, len(raw[start:offset].decode("utf-8", "replace")) + 1
