"""The pytest plugin's tests: pytester sessions, and the real local lab for real drills.

`pytester` is enabled and the session-wide `lab` fixture is declared in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder holding copies of the repo's lab scenarios under scenarios/lab/."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    folder = pytester.path / "scenarios" / "lab"
    folder.mkdir(parents=True)
    for name in ("region-failover.yaml", "network-partition.yaml"):
        (folder / name).write_text((REPO / "scenarios" / "lab" / name).read_text())
    return pytester


def lab_drill(
    path: Path, state_dir: Path, clusters: tuple[str, str] = ("primary", "secondary")
) -> Path:
    """A drill binding two clusters to the lab's sites (nothing is opened until a run)."""
    first, second = clusters
    path.write_text(
        f"""apiVersion: drill-runner.dev/v1alpha1
kind: Drill
metadata:
  name: plugin-test
spec:
  scenarios:
    - path: scenarios/lab/region-failover.yaml
  targets:
    {first}:
      lab:
        site: east
        stateDir: {state_dir}
    {second}:
      lab:
        site: west
        stateDir: {state_dir}
  prometheus:
    lab: true
"""
    )
    return path
