"""`${{ ... }}` placeholders: filled from a recipe's inputs at load time, and from captured
values and the run at run time.

This module owns the placeholder language of recipes and its two substitutions. At load
time (`render`) `inputs.<name>`, `item` (in `forEach`) and `use.id|name|cluster` are filled
in; a placeholder that is a whole YAML value keeps its type (a list stays a list). Run-time
placeholders, `captured.<name>` and `run.id|short|now` (`now`: the time the step starts,
RFC 3339 UTC), stay in the text for the engine, which fills them just before a step runs
(`resolve_step`), when the values exist. The only
filter is `| lower`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

PLACEHOLDER = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_WHOLE = re.compile(r"^\s*\$\{\{\s*((?:(?!\}\}).)*?)\s*\}\}\s*$")
"""A text that is one placeholder and nothing else (`${{ a }}-${{ b }}` is not one)."""
_REF = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)*$")
RUNTIME_ROOTS = ("captured", "run")
RUN_FIELDS = ("id", "short", "now")
FILTERS: dict[str, Callable[[str], str]] = {"lower": str.lower}


class TemplateError(ValueError):
    """A placeholder that cannot be filled: the message names it."""


@dataclass(frozen=True)
class Context:
    """What load-time placeholders may name."""

    inputs: Mapping[str, Any]
    use: Mapping[str, Any]
    item: Any = None
    has_item: bool = False
    captured_prefix: str = ""
    """Captured names written in a recipe are local: `captured.x` becomes `captured.<id>.x`."""


def render(value: Any, ctx: Context) -> Any:
    """`value` with every load-time placeholder filled (run-time ones rewritten, kept)."""
    if isinstance(value, str):
        return _render_text(value, ctx)
    if isinstance(value, dict):
        return {k: render(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    return value


def _render_text(text: str, ctx: Context) -> Any:
    whole = _WHOLE.match(text)
    if whole and not _is_runtime(whole.group(1)):
        return _lookup(whole.group(1), ctx)

    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if _is_runtime(expr):
            return _runtime(expr, ctx)
        value = _lookup(expr, ctx)
        if isinstance(value, dict | list):
            raise TemplateError(
                f"${{{{ {expr} }}}} is a {'mapping' if isinstance(value, dict) else 'list'}; "
                "it can only be a whole value, not part of a text"
            )
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(one, text)


def _is_runtime(expr: str) -> bool:
    return expr.split("|")[0].strip().split(".")[0] in RUNTIME_ROOTS


def _runtime(expr: str, ctx: Context) -> str:
    ref = expr.strip()
    parts = ref.split(".")
    if parts[0] == "run":
        if len(parts) != 2 or parts[1] not in RUN_FIELDS:
            raise TemplateError(
                f"unknown placeholder ${{{{ {ref} }}}} (run.id, run.short or run.now)"
            )
        return f"${{{{ {ref} }}}}"
    if len(parts) != 2 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", parts[1]):
        raise TemplateError(
            f"${{{{ {ref} }}}}: a captured value is named captured.<name> (letters and digits)"
        )
    prefix = f"{ctx.captured_prefix}." if ctx.captured_prefix else ""
    return f"${{{{ captured.{prefix}{parts[1]} }}}}"


def _lookup(expr: str, ctx: Context) -> Any:
    ref, *filters = [p.strip() for p in expr.split("|")]
    if not _REF.match(ref):
        raise TemplateError(f"${{{{ {expr} }}}} is not a placeholder such as inputs.name")
    root, *rest = ref.split(".")
    if root == "inputs":
        if not rest:
            raise TemplateError("${{ inputs }} needs a name: inputs.<name>")
        if rest[0] not in ctx.inputs:
            raise TemplateError(
                f"${{{{ {ref} }}}}: the recipe has no input {rest[0]!r} "
                f"(inputs: {', '.join(sorted(ctx.inputs)) or 'none'})"
            )
        value = _walk(ctx.inputs[rest[0]], rest[1:], ref)
    elif root == "item":
        if not ctx.has_item:
            raise TemplateError(f"${{{{ {ref} }}}} is only known inside a step with forEach")
        value = _walk(ctx.item, rest, ref)
    elif root == "use":
        if len(rest) != 1 or rest[0] not in ctx.use:
            raise TemplateError(
                f"unknown placeholder ${{{{ {ref} }}}} (use.id, use.name, use.cluster)"
            )
        value = ctx.use[rest[0]]
    else:
        raise TemplateError(
            f"unknown placeholder ${{{{ {ref} }}}} (inputs.*, item, use.*, captured.*, run.*)"
        )
    for name in filters:
        if name not in FILTERS:
            raise TemplateError(f"unknown filter {name!r} in ${{{{ {expr} }}}} (lower)")
        if not isinstance(value, str):
            raise TemplateError(f"the filter {name!r} needs text in ${{{{ {expr} }}}}")
        value = FILTERS[name](value)
    return value


def _walk(value: Any, keys: list[str], ref: str) -> Any:
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise TemplateError(f"${{{{ {ref} }}}}: there is no {key!r} in this value")
        value = value[key]
    return value


# --------------------------------------------------------------------------- run time


def runtime_names(value: Any) -> list[str]:
    """Every run-time placeholder (`captured.x`, `run.id`) in a value, as written."""
    found: list[str] = []
    if isinstance(value, str):
        found += [m.strip() for m in PLACEHOLDER.findall(value) if _is_runtime(m)]
    elif isinstance(value, dict):
        for v in value.values():
            found += runtime_names(v)
    elif isinstance(value, list):
        for v in value:
            found += runtime_names(v)
    return found


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """`value` with run-time placeholders replaced from `values` (`captured.x`, `run.id`);
    KeyError naming the first placeholder that has no value."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: _value(m.group(1).strip(), values), value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value


def _value(ref: str, values: Mapping[str, str]) -> str:
    if ref not in values:
        raise KeyError(ref)
    return values[ref]


M = TypeVar("M", bound=BaseModel)


def resolve_step(step: M, values: Mapping[str, str]) -> M:
    """The step with its run-time placeholders filled, validated again (its recipe origin
    kept). KeyError when a placeholder has no value, ValueError when the filled step is
    not valid (e.g. a captured value that is not a time where one is needed)."""
    data = step.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if not runtime_names(data):
        return step
    try:
        filled = type(step).model_validate(fill(data, values))
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}: {first['msg']}") from None
    for name, attr in (step.__pydantic_private__ or {}).items():
        setattr(filled, name, attr)
    return filled
