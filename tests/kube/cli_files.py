"""A scenario, a two-target drill and a kubeconfig pointing at the emulator, as files."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.infra.kubeconfig import write_kubeconfig
from tests.kube.conftest import NS

SCENARIO = {
    "apiVersion": "drill-runner.dev/v1alpha1",
    "kind": "Scenario",
    "metadata": {"name": "site-loss"},
    "spec": {
        "clusters": [{"name": "east"}, {"name": "west"}],
        "faults": [
            {
                "name": "east-down",
                "type": "cluster-loss",
                "cluster": "east",
                "duration": "5m",
                "namespaces": ["db"],
                "isolateNetwork": True,
            },
            {
                "name": "cut",
                "type": "network-partition",
                "cluster": "east",
                "duration": "2m",
                "peer": "west",
                "selector": {"namespaces": ["db"], "labels": {"app": "pg"}},
            },
        ],
        "failover": {
            "steps": [
                {
                    "name": "promote west",
                    "action": "patch",
                    "cluster": "west",
                    "target": {"kind": "Deployment", "name": "pg", "namespace": "db"},
                    "patch": {"spec": {"replicas": 1}},
                }
            ]
        },
    },
}


def write_files(tmp_path: Path, url: str) -> tuple[Path, Path]:
    write_kubeconfig(tmp_path / "kubeconfig", url)
    drill = {
        "apiVersion": "drill-runner.dev/v1alpha1",
        "kind": "Drill",
        "metadata": {"name": "nightly"},
        "spec": {
            "scenarios": [{"path": "scenario.yaml"}],
            "targets": {
                "east": {
                    "kubernetes": {"kubeconfig": "kubeconfig", "context": "emu", "namespace": NS}
                },
                "west": {
                    "kubernetes": {
                        "kubeconfig": "kubeconfig",
                        "context": "emu",
                        "namespace": "other",
                    },
                    "addresses": ["10.2.0.0/16"],
                },
            },
        },
    }
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(SCENARIO))
    (tmp_path / "drill.yaml").write_text(yaml.safe_dump(drill))
    return tmp_path / "scenario.yaml", tmp_path / "drill.yaml"
