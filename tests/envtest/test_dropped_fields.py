"""Safety 4 on a real kube-apiserver 1.20.2, which ignores `fieldValidation=Strict` and
prunes unknown fields silently: a misspelled selector field must be refused, named, before
the fault can act.

The oracle is the server itself: what it stores (nothing, for a refused run) and what it
answers for the object sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner import backends
from runner.chaosmesh.preflight import preflight
from runner.chaosmesh.provider import ChaosMeshFaultProvider
from runner.errors import FaultError
from runner.kube.resources import chaos_resource
from runner.scenario import model
from tests.envtest.conftest import Envtest
from tests.envtest.helpers import fault, scenario
from tests.envtest.test_cli import write_drill
from tests.kube.conftest import make_run
from tests.kube.fake_controller import FakeChaosController
from tests.safety.conftest import drillctl

pytestmark = pytest.mark.envtest


def pod_failure(selector: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "typo",
        "type": "chaos-mesh",
        "cluster": "east",
        "duration": "1m",
        "manifest": {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "PodChaos",
            "metadata": {"name": "pasted"},
            "spec": {"action": "pod-failure", "mode": "all", "selector": selector},
        },
    }


TYPO = {"namespaces": ["db"], "labelSelector": {"app": "pg"}}  # upstream: labelSelectors
RIGHT = {"namespaces": ["db"], "labelSelectors": {"app": "pg"}}


def test_the_server_really_prunes_without_an_error(envtest: Envtest, ns: str) -> None:
    """The premise: a plain strict create is accepted (201) with the field gone."""
    admin = envtest.admins["east"]
    raw = pod_failure(TYPO)["manifest"]
    body = {**raw, "metadata": {"name": "premise"}, "spec": {**raw["spec"], "duration": "1m"}}
    stored = admin.create(chaos_resource("PodChaos"), body, namespace=ns, dry_run=True)
    assert "labelSelector" not in stored["spec"]["selector"]


def test_preflight_refuses_naming_the_dropped_field(
    envtest: Envtest, ns: str, controllers: dict[str, FakeChaosController]
) -> None:
    sc = model.Scenario.model_validate(scenario(pod_failure(TYPO), clusters=("east",)))
    report = preflight(
        envtest.admins["east"], cluster="east", namespace=ns, scenario=sc, peers={}, run=make_run()
    )
    [problem] = report.missing
    assert "dropped field(s) it does not know: spec.selector.labelSelector" in problem, problem
    assert envtest.admins["east"].list(chaos_resource("PodChaos"), namespace=ns)["items"] == []
    right = model.Scenario.model_validate(scenario(pod_failure(RIGHT), clusters=("east",)))
    ok = preflight(
        envtest.admins["east"],
        cluster="east",
        namespace=ns,
        scenario=right,
        peers={},
        run=make_run(),
    )
    assert ok.missing == ()


def test_a_run_is_refused_before_anything_is_created(
    envtest: Envtest, ns: str, tmp_path: Path, controllers: dict[str, FakeChaosController]
) -> None:
    scenario_path, drill_path = write_drill(envtest, tmp_path, ns, [pod_failure(TYPO)])
    done = drillctl("run", str(scenario_path), "--drill", str(drill_path), cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "spec.selector.labelSelector" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for admin in envtest.admins.values():
        assert admin.list(chaos_resource("PodChaos"), namespace=ns)["items"] == []
    plan = drillctl(
        "plan", str(scenario_path), "--drill", str(drill_path), "--server-dry-run", "-o", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert plan.returncode == 2, plan.stdout + plan.stderr
    [row] = json.loads(plan.stdout)["clusters"]["east"]["objects"]
    assert row["server"]["accepted"] is False
    assert row["server"]["causes"] == ["spec.selector.labelSelector: dropped"]


def test_inject_without_preflight_removes_what_lost_a_field(
    envtest: Envtest, ns: str, controllers: dict[str, FakeChaosController]
) -> None:
    """Belt and braces: the create's own answer is checked too, and the object handed to
    the engine for removal before the error is raised."""
    admin = envtest.admins["east"]
    provider = ChaosMeshFaultProvider(admin, cluster="east", namespace=ns, peers={})
    created: list[backends.InjectedFault] = []
    run = make_run(inject_timeout_seconds=10)
    with pytest.raises(FaultError, match=r"spec\.selector\.labelSelector"):
        provider.inject(fault(**pod_failure(TYPO)), run, created.append)
    assert [c.kind for c in created] == ["PodChaos"]
    provider.remove(created[0], run)
    assert admin.list(chaos_resource("PodChaos"), namespace=ns)["items"] == []
