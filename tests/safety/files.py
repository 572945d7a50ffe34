"""Scenario, drill and kubeconfig files for the safety suites, pointing at a test API server.

One logical cluster `east` (and optionally `west`) bound to a kube context that reaches the
server at `url`; the drill can mark targets protected. Everything is written as files, so a
test drives drill-runner exactly as a user does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.infra.kubeconfig import write_kubeconfig

NS = "chaos-drills"
TOKEN = "t0ken-never-printed"
API = "drill-runner.dev/v1alpha1"

LOSE_EAST = {
    "name": "east-down",
    "type": "cluster-loss",
    "cluster": "east",
    "duration": "5m",
    "namespaces": ["db"],
}

SCALE_DOWN = {
    "name": "stop the old primary",
    "action": "scale",
    "cluster": "east",
    "target": {"kind": "Deployment", "namespace": "db", "name": "pg"},
    "replicas": 0,
}
SCALE_BACK = {**SCALE_DOWN, "name": "start it again", "replicas": 1}


def write(
    folder: Path,
    url: str,
    *,
    faults: list[dict[str, Any]] | None = None,
    failover: list[dict[str, Any]] | None = None,
    failback: list[dict[str, Any]] | None = None,
    policy: str = "always",
    protected: tuple[str, ...] = (),
    clusters: tuple[str, ...] = ("east",),
    name: str = "safety",
    timeouts: dict[str, str] | None = None,
    schedule: dict[str, str] | None = None,
    chaos_mesh: dict[str, object] | None = None,
) -> tuple[Path, Path]:
    """scenario.yaml and drill.yaml in `folder`; returns their paths."""
    write_kubeconfig(folder / "kubeconfig", url, token=TOKEN)
    scenario = {
        "apiVersion": API,
        "kind": "Scenario",
        "metadata": {"name": name},
        "spec": {
            "clusters": [{"name": c} for c in clusters],
            "faults": faults if faults is not None else [LOSE_EAST],
            "failover": {"steps": failover or []},
            "failback": {"policy": policy, "steps": failback or []},
            "timeouts": timeouts or {"observe": "0s", "inject": "20s", "remove": "20s"},
        },
    }
    targets = {
        c: {
            "kubernetes": {
                "kubeconfig": "kubeconfig",
                "context": "emu",
                "namespace": NS,
                **({"chaosMesh": chaos_mesh} if chaos_mesh is not None else {}),
            },
            "protected": c in protected,
            "addresses": ["10.9.0.0/16"],
        }
        for c in clusters
    }
    drill = {
        "apiVersion": API,
        "kind": "Drill",
        "metadata": {"name": "safety-drill"},
        "spec": {"scenarios": [{"path": "scenario.yaml"}], "targets": targets},
    }
    if schedule is not None:
        drill["spec"]["schedule"] = schedule
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    (folder / "drill.yaml").write_text(yaml.safe_dump(drill, sort_keys=False))
    return folder / "scenario.yaml", folder / "drill.yaml"
