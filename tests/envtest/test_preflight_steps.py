"""Safety 5 on two real API servers: preflight resolves every step target by discovery and
`get`, on each cluster, before anything is injected."""

from __future__ import annotations

from typing import Any

import pytest

from runner.chaosmesh.kube_steps import KubernetesSteps
from runner.chaosmesh.preflight import preflight
from runner.clock import SystemClock
from runner.kube.resources import Resource
from runner.scenario import model
from tests.envtest.conftest import Envtest
from tests.envtest.helpers import scenario
from tests.kube.conftest import make_run
from tests.kube.fake_controller import FakeChaosController

pytestmark = pytest.mark.envtest

ENDPOINTS = Resource("", "v1", "endpoints", "Endpoints")
"""A kind whose plural is not `<kind>s` or `<kind>es`: only discovery gets it right."""


def _scenario(ns: str) -> model.Scenario:
    doc = scenario(
        {
            "name": "down",
            "type": "cluster-loss",
            "cluster": "east",
            "duration": "1m",
            "namespaces": ["db"],
        }
    )
    steps: list[dict[str, Any]] = [
        {
            "name": "typo",
            "action": "scale",
            "cluster": "east",
            "target": {"kind": "Deployment", "namespace": ns, "name": "ordres"},
            "replicas": 1,
        },
        {
            "name": "promote",
            "action": "patch",
            "cluster": "west",
            "target": {
                "apiVersion": "postgres-operator.crunchydata.com/v1beta1",
                "kind": "PostgresCluster",
                "namespace": ns,
                "name": "pg",
            },
            "patch": {"spec": {"standby": {"enabled": False}}},
        },
        {
            "name": "endpoints ready",
            "action": "wait-for",
            "cluster": "west",
            "target": {"apiVersion": "v1", "kind": "Endpoints", "namespace": ns, "name": "orders"},
            "field": "metadata.name",
            "equals": "orders",
            "timeout": "5s",
        },
    ]
    doc["spec"]["failover"] = {"steps": steps}
    return model.Scenario.model_validate(doc)


def test_each_cluster_resolves_its_own_step_targets(
    envtest: Envtest, ns: str, controllers: dict[str, FakeChaosController]
) -> None:
    west = envtest.admins["west"]
    west.create(ENDPOINTS, {"metadata": {"name": "orders"}}, namespace=ns, strict=False)
    sc = _scenario(ns)
    reports = {
        name: preflight(
            envtest.admins[name], cluster=name, namespace=ns, scenario=sc, peers={}, run=make_run()
        )
        for name in ("east", "west")
    }
    assert reports["east"].missing == (
        f"step 'typo': Deployment {ns}/ordres does not exist on cluster 'east'",
    )
    assert reports["west"].missing == (
        "step 'promote': kind PostgresCluster (postgres-operator.crunchydata.com/v1beta1) is not "
        "served by cluster 'west': is its CRD installed, and is the apiVersion right?",
    )
    # the irregular plural resolved by discovery is the one the step then uses
    steps = KubernetesSteps(west, namespace=ns, clock=SystemClock())
    result = steps.execute(sc.spec.failover.steps[2], make_run())
    assert result.output == f"Endpoints {ns}/orders is ready (metadata.name = 'orders')"
