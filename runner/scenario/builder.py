"""Building plain data and positions from the libyaml parser's event stream.

This module owns the YAML-to-data step: mappings, lists and scalars (resolved like
PyYAML's safe loader), anchors, aliases and `<<` merges, and the structural problems of
a document (duplicate keys, non-text keys, unknown tags, several documents, nesting past
`MAX_DEPTH`, more than `MAX_NODES` values once aliases are expanded, more than `MAX_ISSUES`
problems). It keeps its own stack instead of using
PyYAML's composer, whose C version recurses per nesting level and crashes the interpreter
on very deep input. Mapping keys are always text, as in Kubernetes (`on:` is the key
"on", not the boolean true).

A problem that quotes the file (a key, a tag, a value) also has a bare form that names
only its position: `source` shows the bare form unless the file turns out to be one of ours,
so a file that is not a scenario or a drill is never echoed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from runner.errors import Issue
from runner.scenario.located import Key, Position, Source

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""
MAX_NODES = 100_000
"""Most keys and values a document may hold once aliases are expanded (stops 'billion laughs' and
bounds the work on huge files: real scenarios and drills hold a few hundred)."""
MAX_ISSUES = 100
"""Most problems reported for one file; parsing stops there."""

_Y = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _Y + "str", _Y + "map", _Y + "seq", _Y + "merge"
_SCALAR_TAGS = frozenset(_Y + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""The fast parser (libyaml) where PyYAML was built with it."""
PyLoader: Any = yaml.SafeLoader
"""PyYAML's pure-Python parser: no nesting limit of its own, the same on every machine."""


def events(loader: Any) -> Iterator[Any]:
    while (event := loader.get_event()) is not None:
        yield event


class _Stop(Exception):
    """Parsing cannot go on; the reason is already an issue (never escapes this module)."""


@dataclass
class _Frame:
    container: dict[Key, Any] | list[Any]
    start: Position
    anchor: str | None
    size: int = 1
    key: str | None = None
    key_pos: Position | None = None
    merging: bool = False
    """The pending key is '<<': its value is merged, not stored."""
    merges: list[tuple[dict[Key, Any], Position]] = field(default_factory=list)


class Builder:
    """Turns parser events into data and positions, collecting issues as it goes."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.source = Source(file=file, data=None)
        self.issues: list[Issue] = []
        self.bare: dict[int, str] = {}
        """Index in `issues` -> the message without quoted content."""
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.total = 0
        self.documents = 0
        self.resolver: Any = Loader("")

    def run(self, events: Iterator[Any]) -> None:
        try:
            for event in events:
                self._event(event)
        except _Stop:
            return
        finally:
            self.resolver.dispose()
        if self.documents == 0:
            self.issues.append(_issue(self.file, 1, 1, "the file is empty"))

    def _event(self, ev: Any) -> None:
        pos = Position(ev.start_mark.line + 1, ev.start_mark.column + 1)
        if isinstance(ev, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                msg = "the file holds more than one YAML document; put one per file"
                self._stop(pos, msg)
        elif isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self._open(ev, pos)
        elif isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frame = self.stack.pop()
            if frame.merges and isinstance(frame.container, dict):
                self._merge(frame)
            if frame.anchor is not None:
                self.anchors[frame.anchor] = (frame.container, frame.size)
            self._add(frame.container, frame.start, frame.size)
        elif isinstance(ev, yaml.ScalarEvent):
            if self._is_key_slot():
                self._set_key(ev, pos)
                return
            self._count(pos, 1)
            value = self._scalar(ev, pos)
            if ev.anchor is not None:
                self.anchors[ev.anchor] = (value, 1)
            self._add(value, pos, 1)
        elif isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in self.anchors:
                msg = f"the alias *{ev.anchor} names no anchor defined before it"
                self._stop(pos, msg, bare="an alias names no anchor defined before it")
            if self._is_key_slot():
                self._stop(pos, "a mapping key must be plain text, not an alias")
            value, size = self.anchors[str(ev.anchor)]
            self._count(pos, size)
            self._add(value, pos, size)

    def _open(self, ev: Any, pos: Position) -> None:
        if self._is_key_slot():
            self._stop(pos, "a mapping key must be plain text, not a mapping or a list")
        is_map = isinstance(ev, yaml.MappingStartEvent)
        if ev.tag not in (None, "!", _MAP if is_map else _SEQ):
            self._problem(pos, f"unsupported YAML tag {_tag(ev.tag)}", bare=_BARE_TAG)
        if len(self.stack) >= MAX_DEPTH:
            self._stop(pos, f"the data is nested more than {MAX_DEPTH} levels deep")
        self._count(pos, 1)
        container: dict[Key, Any] | list[Any] = {} if is_map else []
        self.source.keep.append(container)
        self.source.values[id(container)] = {}
        if is_map:
            self.source.keys[id(container)] = {}
        self.stack.append(_Frame(container, pos, ev.anchor))

    def _is_key_slot(self) -> bool:
        if not self.stack:
            return False
        top = self.stack[-1]
        return isinstance(top.container, dict) and top.key is None

    def _set_key(self, ev: Any, pos: Position) -> None:
        top = self.stack[-1]
        self._count(pos, 1)
        if ev.anchor is not None:
            self.anchors[ev.anchor] = (ev.value, 1)
        tag = ev.tag or self.resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit)
        is_merge = tag == _MERGE
        seen = self.source.keys[id(top.container)]
        if ev.tag not in (None, "!", _STR, _MERGE):
            msg = f"a mapping key must be plain text, not tagged {_tag(ev.tag)}"
            self._problem(pos, msg, bare="a mapping key must be plain text, not tagged")
        elif not is_merge and ev.value in seen:
            first = seen[ev.value].line
            msg = f"duplicate key {ev.value!r} (first written at line {first})"
            self._problem(pos, msg, bare=f"duplicate key (first written at line {first})")
        top.key, top.key_pos, top.merging = ev.value, pos, is_merge

    def _count(self, pos: Position, size: int) -> None:
        self.total += size
        if self.total > MAX_NODES:
            msg = f"the data expands to more than {MAX_NODES:,} keys and values (counting aliases)"
            self._stop(pos, msg)

    def _add(self, value: Any, pos: Position, size: int) -> None:
        if not self.stack:
            self.source.data, self.source.root = value, pos
            return
        top = self.stack[-1]
        top.size += size
        where = self.source.values[id(top.container)]
        if isinstance(top.container, list):
            where[len(top.container)] = pos
            top.container.append(value)
            return
        key, key_pos = top.key, top.key_pos
        top.key = top.key_pos = None
        assert key is not None and key_pos is not None
        if top.merging:
            top.merging = False
            self._collect_merge(top, value, pos)
            return
        if key in top.container:  # a duplicate, already reported: keep the first
            return
        top.container[key] = value
        where[key] = pos
        self.source.keys[id(top.container)][key] = key_pos

    def _collect_merge(self, top: _Frame, value: Any, pos: Position) -> None:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                self._problem(pos, "'<<' merges only mappings (or a list of mappings)")
                return
            top.merges.append((item, pos))

    def _merge(self, frame: _Frame) -> None:
        """Merged keys never override keys written in the mapping itself; the first wins."""
        assert isinstance(frame.container, dict)
        target = frame.container
        values, keys = self.source.values[id(target)], self.source.keys[id(target)]
        for other, _ in frame.merges:
            for key, value in other.items():
                if key not in target:
                    target[key] = value
                    values[key] = self.source.values[id(other)][key]
                    keys[key] = self.source.keys[id(other)][key]

    def _scalar(self, ev: Any, pos: Position) -> Any:
        tag = ev.tag
        if tag is None:
            tag = self.resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit)
        elif tag == "!":
            tag = _STR
        if tag == _STR:
            return ev.value
        if tag not in _SCALAR_TAGS:
            self._problem(pos, f"unsupported YAML tag {_tag(tag)}", bare=_BARE_TAG)
            return ev.value
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
        kind = tag.removeprefix(_Y)
        try:
            return self.resolver.construct_object(node)
        except Exception:  # PyYAML's constructors raise KeyError, AttributeError, ValueError...
            msg = f"{_quote(ev.value)} is not a valid {kind}"
            self._problem(pos, msg, bare=f"the value is not a valid {kind}")
            return ev.value

    def _problem(self, pos: Position, message: str, *, bare: str | None = None) -> None:
        if bare is not None:
            self.bare[len(self.issues)] = bare
        self.issues.append(_issue(self.file, pos.line, pos.column, message))
        if len(self.issues) >= MAX_ISSUES:
            msg = f"stopped after {MAX_ISSUES} problems; fix these first"
            self.issues.append(_issue(self.file, pos.line, pos.column, msg))
            raise _Stop

    def _stop(self, pos: Position, message: str, *, bare: str | None = None) -> None:
        self._problem(pos, message, bare=bare)
        raise _Stop

    def partial_root(self) -> Any:
        """The outermost container, finished or not (to tell what kind of file this is)."""
        return self.stack[0].container if self.stack else self.source.data


def _issue(file: str, line: int, column: int, message: str) -> Issue:
    return Issue(file=file, line=line, column=column, field="", message=message)


_BARE_TAG = "unsupported YAML tag"


def _quote(value: str) -> str:
    return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."


def _tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_Y) if tag.startswith(_Y) else tag
