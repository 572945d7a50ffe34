"""Small builders shared by the envtest tests."""

from __future__ import annotations

from typing import Any

from runner.scenario import model


def scenario(
    *faults: dict[str, Any], clusters: tuple[str, ...] = ("east", "west")
) -> dict[str, Any]:
    return {
        "apiVersion": model.API_VERSION,
        "kind": "Scenario",
        "metadata": {"name": "site-loss"},
        "spec": {"clusters": [{"name": c} for c in clusters], "faults": list(faults)},
    }


def fault(**raw: Any) -> model.Fault:
    raw = {"name": "f1", "cluster": "east", "duration": "5m", **raw}
    return model.Scenario.model_validate(scenario(raw)).spec.faults[0]


def missing_leaves(sent: Any, got: Any, path: str = "") -> list[str]:
    """Paths of values in `sent` that `got` lacks or changed (what the server pruned)."""
    if isinstance(sent, dict):
        if not isinstance(got, dict):
            return [path or "."]
        out: list[str] = []
        for key, value in sent.items():
            sub = f"{path}.{key}" if path else str(key)
            out += missing_leaves(value, got.get(key), sub) if key in got else [sub]
        return out
    if isinstance(sent, list):
        if not isinstance(got, list) or len(got) != len(sent):
            return [path]
        out = []
        for i, (a, b) in enumerate(zip(sent, got, strict=True)):
            out += missing_leaves(a, b, f"{path}[{i}]")
        return out
    return [] if sent == got else [path]
