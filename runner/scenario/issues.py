"""Turning pydantic validation errors into located, plain-English `Issue`s.

This module owns the mapping from a pydantic error (`loc` tuple, error type, context) to
a field path such as `spec.faults[0].duration`, the line:column where the user wrote the
offending key or value, and a message without pydantic's jargon, prefixes or URLs.
Pydantic inserts the tag of a discriminated union (`cluster-loss`, `scale`) and the
member name of a plain union (`dict[str,any]`) into `loc`; neither is in the file, so
both are dropped from the path.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from runner.errors import Issue
from runner.scenario.builder import MAX_ISSUES
from runner.scenario.model import NAME_PATTERN, RECIPE_TAG, STEP_TAG
from runner.scenario.source import Key, Path_, Source, format_path

DISCRIMINATORS = ("type", "action")
"""The fields that select a member of a discriminated union (faults, steps)."""
_MISSING = object()


def describe(value: Any) -> str:
    """A value as the user wrote it, for `got ...` (kinds for containers, short for text)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_validation_error(
    error: ValidationError, source: Source, root: type[BaseModel]
) -> list[Issue]:
    """Every error of `error` as an Issue located in `source`; union alternatives merged."""
    grouped: dict[tuple[int, int, str], list[str]] = {}
    errors = error.errors(include_url=False)
    for err in errors:
        if len(grouped) >= MAX_ISSUES:
            break
        located = _locate(err, source, root)
        grouped.setdefault(located[:3], []).append(located[3])
    issues = []
    for (line, column, field), messages in grouped.items():
        message = _merge_alternatives(messages)
        issues.append(
            Issue(file=source.file, line=line, column=column, field=field, message=message)
        )
    shown = sum(len(m) for m in grouped.values())
    if shown < len(errors):
        last = issues[-1]
        more = f"{len(errors) - shown:,} more problems not shown; fix these first"
        issues.append(
            Issue(file=source.file, line=last.line, column=last.column, field="", message=more)
        )
    return issues


def _locate(err: Any, source: Source, root: type[BaseModel]) -> tuple[int, int, str, str]:
    kind: str = err["type"]
    path, on_key = _data_path(err["loc"], source.data, kind)
    ctx = err.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(ctx.get("discriminator", "'type'")).strip("'")
        parent = path
        path = (*path, discriminator)
        where = source.value_at(path if kind == "union_tag_invalid" else parent)
    elif kind == "missing":
        where = source.value_at(path[:-1])
    elif kind == "extra_forbidden" or on_key:
        where = source.key_at(path)
    else:
        where = source.value_at(path)
    message = _message(kind, err, path, source.data, root)
    return where.line, where.column, format_path(path), message


def _data_path(loc: Sequence[Key], data: Any, kind: str) -> tuple[Path_, bool]:
    """The path in the file for a pydantic `loc`, and whether it points at a mapping key."""
    path: list[Key] = []
    node = data
    tag_seen = False  # pydantic puts at most one tag per mapping
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":
            return tuple(path), True
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node, tag_seen = node[part], False
        elif isinstance(node, dict):
            if not tag_seen and _is_tag(node, part, last):
                tag_seen = True
                continue
            if part in node:
                path.append(part)
                node, tag_seen = node[part], False
            elif last and kind in ("missing", "extra_forbidden"):
                path.append(part)
                node = _MISSING
        # anything else is a union member's name (`dict[str,any]`): not in the file
    return tuple(path), False


def _is_tag(node: dict[Key, Any], part: Key, last: bool) -> bool:
    """Is `part` the tag pydantic put in `loc` for this mapping's discriminator?"""
    if part in (STEP_TAG, RECIPE_TAG):
        return True  # a step or a `uses:` step: no key is spelled like these
    if not any(node.get(d) == part for d in DISCRIMINATORS if isinstance(node.get(d), str)):
        return False
    return not last or part not in node


def _message(kind: str, err: Any, path: Path_, data: Any, root: type[BaseModel]) -> str:
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = f", got {describe(value)}"
    if kind == "missing":
        return f"missing required field {path[-1]!r}" if path else "missing"
    if kind == "extra_forbidden":
        allowed = sorted(aliases_at(root, data, path[:-1]))
        return f"unknown field {path[-1]!r}" + _suggest(str(path[-1]), allowed, show_all=True)
    if kind == "union_tag_invalid":
        tags = _split_expected(str(ctx.get("expected_tags", "")))
        return f"expected one of {', '.join(tags)}, got {ctx.get('tag')!r}" + _suggest(
            str(ctx.get("tag")), tags
        )
    if kind == "union_tag_not_found":
        tags = _split_expected(_expected_tags(root, data, path))
        uses = " (or 'uses' with a recipe)" if path and path[-1] == "action" else ""
        return "missing required field" + (f"; one of {', '.join(tags)}{uses}" if tags else "")
    if kind == "literal_error":
        options = _split_expected(str(ctx.get("expected", "")))
        return f"expected {' or '.join(repr(o) for o in options)}{got}" + _suggest(
            str(value), options
        )
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == NAME_PATTERN:
            return f"expected a name of a-z, 0-9 and '-' (at most 63 characters){got}"
        return f"expected text matching {ctx.get('pattern')}{got}"
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return simple.format(**ctx) + got
    text = str(err["msg"])
    text = text.replace("Input should be", "expected").replace("Input", "the value")
    return text[:1].lower() + text[1:] + got


_SIMPLE = {
    "string_type": "expected text",
    "string_too_short": "must not be empty",
    "string_too_long": "expected at most {max_length} characters",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "too_short": "expected at least {min_length} item(s)",
    "too_long": "expected at most {max_length} item(s)",
    "greater_than": "expected a number > {gt}",
    "greater_than_equal": "expected a number >= {ge}",
    "less_than": "expected a number < {lt}",
    "less_than_equal": "expected a number <= {le}",
    "datetime_type": "expected a date and time like 2025-01-31T09:00:00Z",
    "datetime_parsing": "expected a date and time like 2025-01-31T09:00:00Z",
    "datetime_from_date_parsing": "expected a date and time like 2025-01-31T09:00:00Z",
    "enum": "expected one of {expected}",
}


def _merge_alternatives(messages: list[str]) -> str:
    """`expected a mapping, got 'x'` + `expected a list, got 'x'` -> one message."""
    if len(messages) == 1:
        return messages[0]
    heads, tails = [], set()
    for m in messages:
        head, sep, tail = m.partition(", got ")
        if not (sep and head.startswith("expected ")):
            return "; ".join(dict.fromkeys(messages))
        heads.append(head.removeprefix("expected "))
        tails.add(tail)
    if len(tails) != 1:
        return "; ".join(dict.fromkeys(messages))
    return f"expected {' or '.join(dict.fromkeys(heads))}, got {tails.pop()}"


def _suggest(word: str, options: Sequence[str], *, show_all: bool = False) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if show_all and options:
        return f"; expected one of: {', '.join(options)}" if len(options) <= 16 else ""
    return ""


def _split_expected(text: str) -> list[str]:
    """`"'a', 'b' or 'c'"` -> `['a', 'b', 'c']`."""
    parts = text.replace(" or ", ", ").split(", ")
    return [p.strip().strip("'") for p in parts if p.strip()]


# --------------------------------------------------------------------------- model lookups


def aliases_at(root: type[BaseModel], data: Any, path: Path_) -> set[str]:
    """The YAML field names allowed in the mapping at `path` (empty if not a model)."""
    cls = _model_at(root, data, path)
    if cls is None:
        return set()
    return {f.alias or name for name, f in cls.model_fields.items()}


def _expected_tags(root: type[BaseModel], data: Any, path: Path_) -> str:
    """The allowed values of the discriminator at `path` (its last element)."""
    parent = _annotation_at(root, data, path[:-1])
    members = _union_members(parent)
    tags: list[str] = []
    for member in members:
        field = member.model_fields.get(str(path[-1]))
        if field is not None:
            tags.extend(repr(a) for a in typing.get_args(field.annotation))
    return ", ".join(tags)


def _model_at(root: type[BaseModel], data: Any, path: Path_) -> type[BaseModel] | None:
    tp = _annotation_at(root, data, path)
    node = _node_at(data, path)
    resolved = _resolve(tp, node)
    return resolved if isinstance(resolved, type) and issubclass(resolved, BaseModel) else None


def _annotation_at(root: type[BaseModel], data: Any, path: Path_) -> Any:
    tp: Any = root
    node = data
    for part in path:
        tp = _resolve(tp, node)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {f.alias or n: f for n, f in tp.model_fields.items()}
            field = fields.get(str(part)) or tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif origin is list:
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
        node = _node_at(node, (part,))
    return tp


def _resolve(tp: Any, node: Any) -> Any:
    """Strip Annotated and Optional; pick a union member by the node's discriminator."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    members = _union_members(tp)
    if not members:
        return tp
    if len(members) == 1:
        return members[0]
    for member in members:
        if (
            "uses" in member.model_fields
            and isinstance(node, dict)
            and "uses" in node
            and "action" not in node
        ):
            return member
        for d in DISCRIMINATORS:
            field = member.model_fields.get(d)
            if (
                field
                and isinstance(node, dict)
                and node.get(d) in typing.get_args(field.annotation)
            ):
                return member
    return None


def _union_members(tp: Any) -> list[type[BaseModel]]:
    """The models of a union, nested unions and Annotated members flattened."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) not in (Union, types.UnionType):
        return []
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(tp):
        while typing.get_origin(arg) is typing.Annotated:
            arg = typing.get_args(arg)[0]
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            out.append(arg)
        else:
            out += _union_members(arg)
    return out


def _node_at(data: Any, path: Path_) -> Any:
    node = data
    for part in path:
        if not (isinstance(node, dict | list) and _has(node, part)):
            return None
        node = node[part]  # type: ignore[index]
    return node


def _has(node: dict[Key, Any] | list[Any], part: Key) -> bool:
    if isinstance(node, list):
        return isinstance(part, int) and 0 <= part < len(node)
    return part in node
