"""Field conditions on any Kubernetes object: `status.progression == Completed`.

This module owns the small language `wait-for`, `capture` and preflight checks use to say
what an object must look like, parsed once at load time (errors name the column in the
condition) and evaluated against the plain dict the API server returned, with a text of
what was seen for the error when a wait times out.

    condition := clause (" and " clause)*
    clause    := path op [value]
    path      := key ("." key | "[" n "]" | "[*]" | "[" key "=" literal "]" | '["' key '"]')*
    op        := == != < <= > >= in "not in" contains "not contains" exists absent
    value     := literal | "[" literal ("," literal)* "]" | "@" path

A path yields every value it reaches (`[*]` and `[type=Ready]` fan out); a comparison holds
when at least one value was found and every one satisfies it, so a field that is absent
never satisfies `==`, `!=` or an order (ask for it with `absent`). `contains` holds when a
value equals the literal or is a list holding it; `not contains` is its negation (an
absent list contains nothing). Numbers compare as numbers, RFC 3339 times as instants,
booleans as `true`/`false`, anything else as text (order only for numbers and times). A
value `@path` is read from the same object (`status.observedGeneration >= @metadata.generation`).
A run-time placeholder `${{ ... }}` is one literal token here; the engine substitutes it and
parses the condition again before evaluating it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from runner import redact

OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "not in", "in", "not contains", "contains")
UNARY = ("exists", "absent")
_ORDER = {"<", "<=", ">", ">="}
_KEY = re.compile(r"[A-Za-z0-9_$/-]+")
_PLACEHOLDER = re.compile(r"\$\{\{.*?\}\}")
MAX_VALUES_SHOWN = 5
MAX_TEXT = 80


class ConditionError(ValueError):
    """A condition that does not parse; `column` is 1-based within the condition text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (at column {column} of the condition)")
        self.column = column


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class Segment:
    """One step of a path: a key, an index, every item, or the items whose `key` is `value`."""

    key: str | None = None
    index: int | None = None
    every: bool = False
    match: tuple[str, str] | None = None

    def text(self) -> str:
        if self.key is not None:
            return self.key if _KEY.fullmatch(self.key) else f'["{self.key}"]'
        if self.index is not None:
            return f"[{self.index}]"
        if self.match is not None:
            return f"[{self.match[0]}={self.match[1]}]"
        return "[*]"


@dataclass(frozen=True)
class FieldPath:
    """A path into an object, as written (`status.conditions[type=Ready].status`)."""

    segments: tuple[Segment, ...]
    text: str

    def values(self, obj: Any) -> list[Any]:
        """Every value the path reaches in `obj` (empty when none)."""
        nodes = [obj]
        for seg in self.segments:
            nodes = [child for node in nodes for child in _step(node, seg)]
        return [n for n in nodes if n is not None]

    def __str__(self) -> str:
        return self.text


def _step(node: Any, seg: Segment) -> list[Any]:
    if seg.key is not None:
        return [node[seg.key]] if isinstance(node, dict) and seg.key in node else []
    if not isinstance(node, list):
        return []
    if seg.index is not None:
        return [node[seg.index]] if -len(node) <= seg.index < len(node) else []
    if seg.match is not None:
        key, want = seg.match
        return [i for i in node if isinstance(i, dict) and key in i and _same(i[key], want)]
    return list(node)


def parse_path(text: str, offset: int = 0) -> FieldPath:
    """Parse a whole path such as `status.conditions[type=Ready].status`."""
    path, end = _read_path(text, 0, offset)
    if end != len(text):
        raise ConditionError(f"unexpected {text[end]!r} in the path", offset + end + 1)
    return path


def _read_path(text: str, i: int, offset: int) -> tuple[FieldPath, int]:
    start = i
    segments: list[Segment] = []
    expect_key = True
    while i < len(text):
        c = text[i]
        if c == "[":
            seg, i = _read_bracket(text, i, offset)
            segments.append(seg)
            expect_key = False
        elif c == "." and segments and not expect_key:
            expect_key = True
            i += 1
        elif c == "." and segments:
            raise ConditionError("an empty key between dots in the path", offset + i + 1)
        elif expect_key and _KEY.match(text, i):
            m = _KEY.match(text, i)
            assert m is not None
            segments.append(Segment(key=m.group()))
            i = m.end()
            expect_key = False
        else:
            break
    if not segments:
        raise ConditionError("expected a field path such as status.phase", offset + start + 1)
    if expect_key:
        raise ConditionError("the path ends with '.'", offset + i + 1)
    return FieldPath(tuple(segments), text[start:i]), i


def _read_bracket(text: str, i: int, offset: int) -> tuple[Segment, int]:
    close = text.find("]", i)
    if text.startswith('["', i):
        close = text.find('"]', i + 2)
        if close < 0:
            raise ConditionError('unclosed ["...', offset + i + 1)
        return Segment(key=text[i + 2 : close]), close + 2
    if close < 0:
        raise ConditionError("unclosed '['", offset + i + 1)
    inner = text[i + 1 : close].strip()
    if inner == "*":
        return Segment(every=True), close + 1
    if re.fullmatch(r"-?[0-9]+", inner):
        return Segment(index=int(inner)), close + 1
    key, eq, want = inner.partition("=")
    if eq and _KEY.fullmatch(key.strip()) and want.strip():
        return Segment(match=(key.strip(), _unquote(want.strip()))), close + 1
    raise ConditionError(
        f"expected [n], [*] or [key=value] in the path, got [{inner}]", offset + i + 1
    )


# --------------------------------------------------------------------------- clauses


@dataclass(frozen=True)
class Operand:
    """The right-hand side: literals (one, or a list for in/not in) or another field."""

    literals: tuple[str, ...] = ()
    field: FieldPath | None = None

    def resolve(self, obj: Any) -> list[Any]:
        if self.field is not None:
            return self.field.values(obj)[:1]
        return list(self.literals)


@dataclass(frozen=True)
class Clause:
    path: FieldPath
    op: str
    operand: Operand | None

    def holds(self, obj: Any) -> bool:
        values = self.path.values(obj)
        if self.op == "exists":
            return bool(values)
        if self.op == "absent":
            return not values
        assert self.operand is not None
        rhs = self.operand.resolve(obj)
        if self.op in ("contains", "not contains"):
            found = any(
                _same(v, r) or (isinstance(v, list) and any(_same(i, r) for i in v))
                for v in values
                for r in rhs[:1]
            )
            return found if self.op == "contains" else not found
        if not values or not rhs:
            return False
        if self.op in ("in", "not in"):
            inside = [any(_same(v, r) for r in rhs) for v in values]
            return all(inside) if self.op == "in" else not any(inside)
        return all(_compare(v, self.op, rhs[0]) for v in values)

    def seen(self, obj: Any) -> str:
        """What the object holds at this clause's path, for messages (a field whose name
        says credential, such as a demotion token, shows only whether it is there)."""
        values = self.path.values(obj)
        text = f"{self.path} = {_shown(self.path, values)}" if values else f"{self.path}: absent"
        if self.operand is not None and self.operand.field is not None:
            other = self.operand.field.values(obj)
            text += (
                f", {self.operand.field} = {_shown(self.operand.field, other)}"
                if other
                else (f", {self.operand.field}: absent")
            )
        return text


def _shown(path: FieldPath, values: list[Any]) -> str:
    if any(s.key is not None and redact.names_a_secret(s.key) for s in path.segments):
        return redact.REDACTED
    return _show(values)


@dataclass(frozen=True)
class Condition:
    """One parsed condition: clauses joined by `and`."""

    text: str
    clauses: tuple[Clause, ...]

    def holds(self, obj: Any) -> bool:
        return all(c.holds(obj) for c in self.clauses)

    def seen(self, obj: Any | None) -> str:
        """The values this condition looked at, as last seen (`status.phase = 'Running'`)."""
        if obj is None:
            return "the object does not exist"
        return "; ".join(dict.fromkeys(c.seen(obj) for c in self.clauses))

    @property
    def placeholders(self) -> list[str]:
        """The `${{ ... }}` placeholders in the condition, resolved at run time."""
        return _PLACEHOLDER.findall(self.text)

    def __str__(self) -> str:
        return self.text


def parse_condition(text: object) -> Condition:
    """Parse a condition; ConditionError (a ValueError) says what and at which column."""
    if isinstance(text, Condition):
        return text
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(
            f"expected a condition like 'status.phase == Completed', got {_show_input(text)}"
        )
    if not text.strip():
        raise ValueError("expected a condition like 'status.phase == Completed', got ''")
    clauses = []
    for start, part in _split_and(text):
        clauses.append(_parse_clause(part, start))
    return Condition(text=text.strip(), clauses=tuple(clauses))


def _split_and(text: str) -> list[tuple[int, str]]:
    """The clauses of `text` split at ` and ` outside quotes and placeholders."""
    parts: list[tuple[int, str]] = []
    start, i, quote = 0, 0, ""
    while i < len(text):
        if text.startswith("${{", i) and not quote:
            end = text.find("}}", i)
            i = len(text) if end < 0 else end + 2
            continue
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif text.startswith(" and ", i):
            parts.append((start, text[start:i]))
            start = i + 5
            i += 5
            continue
        i += 1
    parts.append((start, text[start:]))
    return parts


def _parse_clause(part: str, offset: int) -> Clause:
    lead = len(part) - len(part.lstrip())
    body = part.strip()
    offset += lead
    if not body:
        raise ConditionError("an empty clause around 'and'", offset + 1)
    path, i = _read_path(body, 0, offset)
    rest = body[i:].lstrip()
    op_at = offset + len(body) - len(rest)
    for word in UNARY:
        if rest == word:
            return Clause(path, word, None)
    for op in OPERATORS:
        if rest.startswith(op) and (op[-1] in "=<>" or rest[len(op) : len(op) + 1] in (" ", "")):
            value = rest[len(op) :].strip()
            if not value:
                raise ConditionError(f"a value is missing after {op!r}", op_at + len(op) + 1)
            value_at = op_at + len(rest) - len(rest[len(op) :].lstrip())
            return Clause(path, op, _operand(op, value, value_at))
    if not rest:
        raise ConditionError(
            "an operator is missing after the path (==, !=, <, <=, >, >=, in, not in, "
            "contains, not contains, exists, absent)",
            op_at + 1,
        )
    raise ConditionError(
        f"expected an operator (==, !=, <, <=, >, >=, in, not in, contains, not contains, "
        f"exists, absent), got {rest.split()[0]!r}",
        op_at + 1,
    )


def _operand(op: str, value: str, offset: int) -> Operand:
    if value.startswith("@"):
        return Operand(field=parse_path(value[1:], offset + 1))
    if op in ("in", "not in"):
        if not (value.startswith("[") and value.endswith("]")):
            raise ConditionError(f"{op!r} needs a list such as [Failed, Error]", offset + 1)
        items = [_unquote(v.strip()) for v in _split_list(value[1:-1])]
        if not items or any(i == "" for i in items):
            raise ConditionError("the list is empty or has an empty item", offset + 1)
        return Operand(literals=tuple(items))
    if value[0] in "\"'":
        if len(value) < 2 or value[-1] != value[0]:
            raise ConditionError("unclosed quote", offset + 1)
        return Operand(literals=(value[1:-1],))
    if " " in value and not _PLACEHOLDER.fullmatch(value):
        raise ConditionError(
            f"the value {value!r} has spaces: quote it, or join clauses with ' and '", offset + 1
        )
    return Operand(literals=(value,))


def _split_list(text: str) -> list[str]:
    items, cur, quote = [], "", ""
    for c in text:
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == ",":
            items.append(cur)
            cur = ""
            continue
        cur += c
    items.append(cur)
    return items


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


# --------------------------------------------------------------------------- comparison


def _same(value: Any, literal: Any) -> bool:
    """Does a field value equal a literal (both as the user means them)?"""
    if isinstance(literal, str):
        if isinstance(value, bool):
            return literal.lower() == ("true" if value else "false")
        if isinstance(value, int | float):
            number = _number(literal)
            return number is not None and float(value) == number
        if isinstance(value, str):
            return value == literal
        return _canonical(value) == literal
    return bool(value == literal)


def _compare(value: Any, op: str, literal: Any) -> bool:
    if op == "==":
        return _same(value, literal)
    if op == "!=":
        return not _same(value, literal)
    a, b = _orderable(value), _orderable(literal)
    if a is None or b is None or type(a) is not type(b):
        return False
    return _ORDERS[op](a, b)


_ORDERS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _orderable(value: Any) -> float | datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        number = _number(value)
        if number is not None:
            return number
        return parse_time(value)
    return None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time with a zone (`2025-01-31T09:00:00Z`), or None."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _show(values: Sequence[Any]) -> str:
    shown = [_short(v) for v in values[:MAX_VALUES_SHOWN]]
    more = f", ... ({len(values)} values)" if len(values) > MAX_VALUES_SHOWN else ""
    return shown[0] if len(values) == 1 else f"[{', '.join(shown)}{more}]"


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else _canonical(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _show_input(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return _short(value)


FieldCondition = Annotated[
    Condition,
    BeforeValidator(parse_condition),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "examples": ["status.progression == Completed", "status.errors > 0"],
        }
    ),
]


def check_path(text: object) -> FieldPath:
    """A path given on its own (`capture` values, `newest`), as a pydantic validator."""
    if isinstance(text, FieldPath):
        return text
    if isinstance(text, bool) or not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected a field path such as status.phase, got {_show_input(text)}")
    return parse_path(text.strip())


PathText = Annotated[
    FieldPath,
    BeforeValidator(check_path),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["status.completionTimestamp"]}),
]
