"""Cross-file checks of a drill: the scenarios it names exist, load, and fit its targets.

This module owns the rules that span files. Each scenario path is taken relative to the
drill file; each scenario must load on its own (its issues are reported against its own
file); every logical cluster a scenario declares must be bound under the drill's
`spec.targets`. Issues about the drill are located at the drill's own lines, and all
issues of all files are raised together.
"""

from __future__ import annotations

import os
from pathlib import Path

from runner.errors import InvalidInputError, Issue
from runner.scenario import loader, model
from runner.scenario.source import Path_, Source, format_path

ScenarioCache = dict[Path, "model.Scenario | InvalidInputError"]
"""Scenarios already loaded in this run, by resolved path (a folder shares them)."""


def check_drill(
    path: str | Path, *, cache: ScenarioCache | None = None
) -> tuple[model.Drill, list[model.Scenario]]:
    """Load a drill and every scenario it names; raise InvalidInputError with all issues."""
    located = loader.load_located(path, model.Drill)
    drill, source = located.model, located.source
    cache = {} if cache is None else cache
    issues: list[Issue] = []
    scenarios: list[model.Scenario] = []
    base = Path(path).parent
    for i, ref in enumerate(drill.spec.scenarios):
        at: Path_ = ("spec", "scenarios", i, "path")
        file = Path(os.path.normpath(base / ref.path))  # shown in issues: no "a/../"
        resolved = file.resolve()
        if resolved not in cache:
            if not file.is_file():
                what = "a folder" if file.is_dir() else "no such file"
                issues.append(_issue(source, at, f"{what}: {file}"))
                continue
            cache[resolved] = _load(file)
        loaded = cache[resolved]
        if isinstance(loaded, InvalidInputError):
            issues.extend(loaded.issues)
            continue
        scenarios.append(loaded)
        unbound = [c for c in loaded.cluster_names if c not in drill.spec.targets]
        for cluster in unbound:
            msg = (
                f"scenario {loaded.name!r} ({ref.path}) uses cluster {cluster!r}, "
                f"which spec.targets does not bind"
            )
            issues.append(_issue(source, ("spec", "targets"), msg, key=True))
    if issues:
        raise InvalidInputError(_unique(issues))
    return drill, scenarios


def _load(file: Path) -> model.Scenario | InvalidInputError:
    try:
        return loader.load_scenario(file)
    except InvalidInputError as e:
        return e


def _issue(source: Source, path: Path_, message: str, *, key: bool = False) -> Issue:
    where = source.key_at(path) if key else source.value_at(path)
    field = format_path(path)
    return Issue(
        file=source.file, line=where.line, column=where.column, field=field, message=message
    )


def _unique(issues: list[Issue]) -> list[Issue]:
    """A scenario named twice reports its own issues once."""
    return list(dict.fromkeys(issues))
