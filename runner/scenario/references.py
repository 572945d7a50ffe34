"""Cross-file checks of a drill: the scenarios it names exist, load, and fit its targets.

This module owns the rules that span files. Each scenario path is taken relative to the
drill file and must stay inside the drill's tree: the drill's own folder, the `scenarios/`
folder beside it (the repository's and deploy/'s layout), or a folder named in the
`DRILL_SCENARIO_ROOTS` environment variable (the explicit opt-in, `os.pathsep`-separated),
so a drill in a pull request cannot make CI read an arbitrary file. Each scenario must load
on its own (its issues are reported against its own file); every logical cluster a
scenario declares must be bound under the drill's `spec.targets`. Issues about the drill
are located at the drill's own lines, and all issues of all files are raised together.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from runner.errors import InvalidInputError, Issue
from runner.scenario import loader, model
from runner.scenario.source import Path_, Source, format_path

ScenarioCache = dict[Path, "model.Scenario | InvalidInputError"]
"""Scenarios already loaded in this run, by resolved path (a folder shares them)."""
ROOTS_ENV = "DRILL_SCENARIO_ROOTS"
"""More folders a drill's scenarios may come from (the opt-in; `os.pathsep`-separated)."""
_SHOWN = 120
"""Longest path shown in an issue."""


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
    roots = allowed_roots(base)
    for i, ref in enumerate(drill.spec.scenarios):
        at: Path_ = ("spec", "scenarios", i, "path")
        found = _scenario_file(base, ref.path, roots)
        if isinstance(found, str):
            issues.append(_issue(source, at, found))
            continue
        file, resolved = found
        if resolved not in cache:
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


def allowed_roots(drill_dir: Path) -> list[Path]:
    """The folders a drill in `drill_dir` may take scenarios from, resolved."""
    roots = [drill_dir, drill_dir / ".." / "scenarios"]
    roots += [Path(p) for p in os.environ.get(ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    out = []
    for root in roots:
        try:
            out.append(Path(os.path.expanduser(root)).resolve())
        except (OSError, RuntimeError, ValueError):  # a loop or a NUL: allows nothing
            continue
    return out


def _scenario_file(base: Path, ref: str, roots: list[Path]) -> tuple[Path, Path] | str:
    """(the file as shown, its resolved path), or what is wrong with `ref`."""
    if "\x00" in ref:
        return "the path holds a NUL character"
    file = Path(os.path.normpath(base / ref))  # shown in issues: no "a/../"
    shown = _shorten(str(file))
    try:
        resolved = file.resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            return (
                f"{shown} is outside the drill's folder and the scenarios/ folder beside it; "
                f"allow its folder with {ROOTS_ENV}"
            )
        if resolved.is_dir():
            return f"a folder: {shown}"
        if not resolved.is_file():
            return f"no such file: {shown}"
    except RuntimeError:  # Python < 3.13 raises this for a symlink loop
        return f"a symlink loop: {shown}"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"a symlink loop: {shown}"
        if e.errno == errno.ENAMETOOLONG:
            return f"the path or one of its names is too long: {shown}"
        return f"cannot read {shown}: {e.strerror}"
    return file, resolved


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN // 2]}…{text[-_SHOWN // 2 :]}"


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
