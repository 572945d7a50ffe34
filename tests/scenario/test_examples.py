"""The example scenarios and drill shipped in the repository validate."""

from __future__ import annotations

import pytest

from runner.scenario import loader, model, references
from tests.scenario.files import REPO

SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_example_scenarios_validate(path: object) -> None:
    scenario = loader.load_scenario(path)  # type: ignore[arg-type]
    assert scenario.spec.objectives.rto or scenario.spec.objectives.rpo


def test_the_examples_are_the_three_documented_ones() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {"region-failover", "network-partition", "replication-lag"} <= names


def test_region_failover_covers_the_runbook() -> None:
    scenario = loader.load_scenario(REPO / "scenarios" / "region-failover.yaml")
    assert isinstance(scenario.spec.faults[0], model.ClusterLossFault)
    actions = [s.action for s in scenario.spec.failover.steps]
    assert {"scale", "patch", "wait-for", "http"} <= set(actions)
    assert scenario.spec.failback.steps


def test_example_drill_binds_every_scenario() -> None:
    drill, scenarios = references.check_drill(REPO / "drills" / "example.yaml")
    assert len(scenarios) == 3
    assert all(t.kubernetes is not None for t in drill.spec.targets.values())
    prometheus = drill.spec.prometheus
    assert prometheus is not None and prometheus.bearer_token is not None
    assert prometheus.bearer_token.env and "X-Scope-OrgID" in prometheus.headers
    assert drill.spec.schedule is not None and drill.spec.notifications
