"""Small valid scenario and drill texts the tests break in one place at a time."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

SCENARIO = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Scenario
metadata:
  name: small
spec:
  clusters:
    - name: east
    - name: west
  steadyState:
    - name: up
      query: up
      expect: ">= 1"
  faults:
    - name: lose-east
      type: cluster-loss
      cluster: east
      duration: 1m
  failover:
    steps:
      - name: scale west
        action: scale
        cluster: west
        target: {kind: Deployment, name: app}
        replicas: 2
  objectives:
    rto: 5m
"""

DRILL = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Drill
metadata:
  name: small-drill
spec:
  scenarios:
    - path: small.yaml
  targets:
    east:
      kubernetes: {context: east}
    west:
      kubernetes: {context: west}
  prometheus:
    url: http://prometheus:9090
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def scenario_with(**spec_changes: object) -> str:
    """The small scenario with top-level spec keys replaced, dumped back to YAML."""
    data = yaml.safe_load(SCENARIO)
    data["spec"].update(spec_changes)
    return yaml.safe_dump(data, sort_keys=False)
