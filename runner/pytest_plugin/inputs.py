"""Turning a Python test's arguments into input files: scenario overrides and target mappings.

Both are written out as ordinary YAML files and then loaded by the scenario loader, so an
override or a mapping is validated exactly like a hand-written file and its issues point
at a file a person can open.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from runner.errors import InvalidInputError, Issue
from runner.scenario import source

API_VERSION = "drill-runner.dev/v1alpha1"
_PATH_KEYS = frozenset({"kubeconfig", "caFile", "file"})
"""Keys of a target mapping holding file paths, made absolute against the rootdir."""


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_overridden_scenario(
    scenario_path: Path, label: str, overrides: Mapping[str, Any], out_dir: Path
) -> Path:
    """A copy of the scenario with `overrides` deep-merged into its `spec`."""
    data = source.read(scenario_path, label).data
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        raise InvalidInputError(
            [Issue(file=label, line=1, column=1, field="spec", message="no spec to override")]
        )
    merged = {**data, "spec": deep_merge(data["spec"], overrides)}
    out = out_dir / f"{scenario_path.stem}.overridden.yaml"
    header = f"# {scenario_path} with overrides {overrides!r}\n"
    out.write_text(header + yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    return out


def write_drill(
    targets: Mapping[str, Any], scenario_path: Path, rootdir: Path, out_dir: Path
) -> Path:
    """A drill file from a mapping: either a drill `spec` (has `targets`) or the targets alone.

    With the targets alone, a lab target brings `prometheus: {lab: true}`. Relative
    `kubeconfig`, `caFile` and secret `file` paths are taken from the rootdir.
    """
    spec = dict(_absolute(targets, rootdir))
    if "targets" not in spec:
        spec = {"targets": spec}
        if any(isinstance(t, Mapping) and "lab" in t for t in spec["targets"].values()):
            spec["prometheus"] = {"lab": True}
    spec["scenarios"] = [{"path": str(scenario_path)}]
    drill = {
        "apiVersion": API_VERSION,
        "kind": "Drill",
        "metadata": {"name": "pytest-targets"},
        "spec": spec,
    }
    out = out_dir / "targets.drill.yaml"
    out.write_text(yaml.safe_dump(drill, sort_keys=False), encoding="utf-8")
    return out


def _absolute(value: Any, rootdir: Path) -> Any:
    if isinstance(value, Mapping):
        return {
            k: str(rootdir / v)
            if k in _PATH_KEYS and isinstance(v, str) and not Path(v).expanduser().is_absolute()
            else _absolute(v, rootdir)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_absolute(v, rootdir) for v in value]
    return value
