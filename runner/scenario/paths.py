"""The one base for relative paths: every file a scenario or a drill names is resolved, when
the file loads, against the folder of the file that names it.

That covers a drill's `kubeconfig`, its Prometheus `caFile`, every secret `file:` (the
Prometheus bearer token and basic-auth password, notification URLs), a lab target's
`stateDir` (a folder) and a scenario's step `headerSecrets`. A path that starts with `~` is
the user's home, an absolute path stays as written. What comes out is absolute, so nothing
downstream needs a base or depends on the working directory. A path that cannot name what
it should (empty, a control character, an unknown `~user`, an existing folder where a file
is meant or an existing file where a folder is) is an issue located at file, line and
field. Paths are normalised lexically (`a/../b` is `b`), as the scheduler's catalog does.

Not resolved here: a drill's scenario paths (`references`, which also checks them), and a
lab target without `stateDir`, which means the lab `drillctl lab up` starts by default (its
`.drill-lab` in the working directory).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from runner.errors import Issue
from runner.scenario import model
from runner.scenario.located import Path_, Source, format_path

M = TypeVar("M", bound=BaseModel)

Kind = Literal["file", "folder"]

PATH_FIELDS: dict[type[BaseModel], dict[str, Kind]] = {
    model.SecretRef: {"file": "file"},
    model.KubernetesTarget: {"kubeconfig": "file"},
    model.PrometheusSource: {"ca_file": "file"},
    model.LabTarget: {"state_dir": "folder"},
}
"""The fields that name a path, per model class, and what they name."""


def resolve_paths(obj: M, src: Source) -> tuple[M, list[Issue]]:
    """`obj` with every relative path it names made absolute against the folder of
    `src.file`, and the issues of the paths that cannot name what they should."""
    base = Path(os.path.abspath(src.file)).parent
    issues: list[Issue] = []

    def fix(value: str, path: Path_, kind: Kind) -> str:
        problem = _problem(value)
        if problem is None:
            resolved = resolve_path(value, base)
            problem = _wrong_kind(resolved, kind)
            if problem is None:
                return str(resolved)
        pos = src.value_at(path)
        field = format_path(path)
        line, column = pos.line, pos.column
        issues.append(Issue(file=src.file, line=line, column=column, field=field, message=problem))
        return value

    out = _walk(obj, (), fix)
    assert isinstance(out, type(obj))
    return out, issues


def resolve_path(value: str, base: Path) -> Path:
    """One path as a file names it: `~` is the home folder, a relative path is relative to
    `base` (the folder of the file that names it)."""
    return Path(os.path.normpath(base / os.path.expanduser(value)))


def _wrong_kind(resolved: Path, kind: Kind) -> str | None:
    """Why an existing `resolved` is not the kind of path the field names (None: it may be)."""
    if kind == "file" and resolved.is_dir():
        return f"{resolved} is a folder, not a file"
    if kind == "folder" and resolved.exists() and not resolved.is_dir():
        return f"{resolved} is a file, not a folder"
    return None


def _problem(value: str) -> str | None:
    if not value.strip():
        return "the path is empty"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "the path contains a control character"
    if value.startswith("~") and os.path.expanduser(value).startswith("~"):
        return f"the home folder of {value.split('/', 1)[0]!r} is unknown"
    return None


def _walk(value: Any, path: Path_, fix: Any) -> Any:
    if isinstance(value, BaseModel):
        paths = PATH_FIELDS.get(type(value), {})
        updates = {}
        for name, info in type(value).model_fields.items():
            current = getattr(value, name)
            key = info.alias or name
            if name in paths and isinstance(current, str):
                new = fix(current, (*path, key), paths[name])
            else:
                new = _walk(current, (*path, key), fix)
            if new is not current:
                updates[name] = new
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, list):
        items = [_walk(v, (*path, i), fix) for i, v in enumerate(value)]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        entries = {k: _walk(v, (*path, k), fix) for k, v in value.items()}
        return entries if any(entries[k] is not value[k] for k in value) else value
    return value
