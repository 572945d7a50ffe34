"""Loading scenario and drill files into the model, with every problem located at once.

This module owns the path from a file to a validated `Scenario` or `Drill`: read the YAML
with positions (`source`), pick the model by `kind`, validate, map pydantic's errors to
`file:line:column: field: message` issues (`issues`), then run the scenario's semantic
checks (`semantics`) and expand its recipes (`recipes`: for a normal run, or for a test
failover). Anything wrong raises `InvalidInputError` listing every issue; no other
exception escapes for bad input. Cross-file checks of drills live in `references`.
A `Recipe` file loads here too (`drillctl validate` checks recipe folders).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from runner.errors import InvalidInputError, Issue
from runner.scenario import issues, paths, recipes, semantics, source
from runner.scenario.model import Drill, Scenario

log = logging.getLogger(__name__)

M = TypeVar("M", Scenario, Drill)
KINDS: dict[str, type[Scenario] | type[Drill] | type[recipes.Recipe]] = {
    "Scenario": Scenario,
    "Drill": Drill,
    "Recipe": recipes.Recipe,
}


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated file: its model, and its source for locating further issues."""

    model: M
    source: source.Source


def load_scenario(path: str | Path, *, test_failover: bool = False) -> Scenario:
    """Load and check one scenario file, its recipes expanded (for a test failover: with
    what the test does instead; see `Scenario.expansion`)."""
    return load_located(path, Scenario, test_failover=test_failover).model


def load_drill(path: str | Path) -> Drill:
    """Load and check one drill file (only this file; `references.check_drill` follows refs)."""
    return load_located(path, Drill).model


def load_file(path: str | Path) -> Scenario | Drill | recipes.Recipe:
    """Load a scenario, a drill or a recipe, whichever its `kind` says. A scenario is
    expanded for a normal run and for a test failover, so both are checked."""
    src = source.read(Path(path), str(path))
    cls = _kind_of(src, tuple(KINDS))
    if cls is Scenario:
        scenario = _validate(src, Scenario)
        _validate(src, Scenario, test_failover=True)
        return scenario
    if cls is recipes.Recipe:
        return recipes.validate_recipe(src)
    return _validate(src, Drill)


def load_located(path: str | Path, expect: type[M], *, test_failover: bool = False) -> Loaded[M]:
    """Load a file that must be of kind `expect`, keeping its source positions."""
    src = source.read(Path(path), str(path))
    _kind_of(src, (expect.__name__,))
    return Loaded(model=_validate(src, expect, test_failover=test_failover), source=src)


def parse_text(text: str, file: str, expect: type[M], *, test_failover: bool = False) -> M:
    """Validate YAML text as `expect` (for tests and generated files)."""
    src = source.parse_text(text, file)
    _kind_of(src, (expect.__name__,))
    return _validate(src, expect, test_failover=test_failover)


def _kind_of(src: source.Source, allowed: tuple[str, ...]) -> type[BaseModel]:
    """The model for the file's kind. A file that is not ours is described, never quoted."""
    data = src.data
    if not isinstance(data, dict):
        msg = f"expected a mapping with apiVersion, kind, metadata and spec, got {_what(data)}"
        raise InvalidInputError([_issue(src, (), msg)])
    kind = data.get("kind")
    names = [repr(k) for k in allowed]
    wanted = " or ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} or {names[-1]}"
    if "kind" not in data:
        msg = f"missing required field 'kind' ({wanted})"
        raise InvalidInputError([_issue(src, ("kind",), msg)])
    if kind not in allowed:
        got = issues.describe(kind) if source.is_ours(data) else _what(kind)
        msg = f"expected {wanted}, got {got}"
        if isinstance(kind, str) and kind in KINDS:
            msg += f": this command needs a {allowed[0].lower()} file"
        raise InvalidInputError([_issue(src, ("kind",), msg)])
    return KINDS[str(kind)]


def _what(value: object) -> str:
    """A value's kind, without its content."""
    if isinstance(value, dict | list) or value is None:
        return issues.describe(value)
    if isinstance(value, str):
        return "text"
    return (
        "a number"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else ("a value")
    )


def _validate(src: source.Source, cls: type[M], *, test_failover: bool = False) -> M:
    try:
        obj = cls.model_validate(src.data)
    except ValidationError as e:
        raise InvalidInputError(issues.from_validation_error(e, src, cls)) from None
    except RecursionError:  # pragma: no cover - source.MAX_DEPTH keeps data far shallower
        raise InvalidInputError([_issue(src, (), "the data is nested too deeply")]) from None
    found = (
        semantics.check_scenario(obj, src)
        if isinstance(obj, Scenario)
        else semantics.check_drill(obj, src)
        if isinstance(obj, Drill)
        else []
    )
    obj, bad_paths = paths.resolve_paths(obj, src)
    found += bad_paths
    if found:
        raise InvalidInputError(found)
    for issue in deprecated(obj, src):
        log.warning("%s", issue)
    if isinstance(obj, Scenario):
        written = Path(src.file) if Path(src.file).suffix in (".yaml", ".yml") else None
        return recipes.expand(obj, src, scenario_file=written, test_failover=test_failover)
    return obj


DEPRECATED = (
    "is deprecated and not read by the runner; it still loads, and a later version will "
    "refuse it: remove it"
)


def deprecated(obj: BaseModel, src: source.Source) -> list[Issue]:
    """Fields still accepted but never read, located (a warning, not an error): a scenario's
    `timeouts.drill` (the runner has no whole-drill timeout; each phase has its own) and a
    target's own `prometheus` (measurements come from the drill's `spec.prometheus`)."""
    paths: list[source.Path_] = []
    if isinstance(obj, Scenario) and "drill" in obj.spec.timeouts.model_fields_set:
        paths.append(("spec", "timeouts", "drill"))
    if isinstance(obj, Drill):
        paths += [
            ("spec", "targets", name, "prometheus")
            for name, target in obj.spec.targets.items()
            if "prometheus" in target.model_fields_set
        ]
    return [_issue(src, path, DEPRECATED) for path in paths]


def _issue(src: source.Source, path: source.Path_, message: str) -> Issue:
    pos = src.value_at(path)
    field = source.format_path(path)
    return Issue(file=src.file, line=pos.line, column=pos.column, field=field, message=message)
