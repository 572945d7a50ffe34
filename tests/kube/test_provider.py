"""ChaosMeshFaultProvider against the emulator and the fake controller, over real HTTP."""

from __future__ import annotations

import threading
import time

import pytest

from runner import backends
from runner.chaosmesh.provider import ChaosMeshFaultProvider
from runner.errors import AbortRequested, FaultError
from runner.kube.client import KubeClient
from runner.kube.resources import chaos_resource
from runner.scenario import model
from tests.kube.conftest import NS, make_run
from tests.kube.fake_controller import FakeChaosController

PEERS = {"west": model.Target.model_validate({"kubernetes": {}, "addresses": ["10.2.0.0/16"]})}


def scenario_fault(**raw: object) -> model.Fault:
    raw = {"name": "f1", "cluster": "east", "duration": "5m", **raw}
    doc = {
        "apiVersion": model.API_VERSION,
        "kind": "Scenario",
        "metadata": {"name": "s"},
        "spec": {"clusters": [{"name": "east"}], "faults": [raw]},
    }
    return model.Scenario.model_validate(doc).spec.faults[0]


CLUSTER_LOSS = {"type": "cluster-loss", "namespaces": ["db"], "isolateNetwork": True}


def provider(kube: KubeClient, **kw: float) -> ChaosMeshFaultProvider:
    return ChaosMeshFaultProvider(
        kube, cluster="east", namespace=NS, peers=PEERS, not_selected_grace=0, watch_slice=0.5, **kw
    )


def test_inject_confirm_remove(
    kube: KubeClient, controller: FakeChaosController, run: backends.RunContext
) -> None:
    p = provider(kube)
    created: list[backends.InjectedFault] = []
    injected = p.inject(scenario_fault(**CLUSTER_LOSS), run, created.append)
    assert [(f.kind, f.injected_at) for f in created] == [
        ("PodChaos", None),
        ("NetworkChaos", None),
    ]
    assert [f.kind for f in injected] == ["PodChaos", "NetworkChaos"]
    assert all(f.injected_at is not None and f.cluster == "east" for f in injected)
    stored = kube.get(chaos_resource("PodChaos"), injected[0].name, namespace=NS)
    assert stored["metadata"]["finalizers"] == ["chaos-mesh/records"]
    assert stored["spec"]["duration"] == "5m30s"
    for f in injected:
        p.remove(f, run)
        assert kube.get_or_none(chaos_resource(f.kind), f.name, namespace=NS) is None
    p.remove(injected[0], run)  # idempotent
    actions = [a for a, _ in run.log]  # type: ignore[attr-defined]
    assert actions.count("fault.created") == 2 and actions.count("fault.injected") == 2


def test_pod_kill_is_one_shot(
    kube: KubeClient, controller: FakeChaosController, run: backends.RunContext
) -> None:
    fault = scenario_fault(type="pod-kill", selector={"namespaces": ["db"]})
    [f] = provider(kube).inject(fault, run, lambda _f: None)
    assert f.one_shot and f.kind == "PodChaos"


def test_selected_false_fails_fast_naming_the_selector(
    kube: KubeClient, controller: FakeChaosController, run: backends.RunContext
) -> None:
    controller.behaviour["f1"] = "never-select"
    fault = scenario_fault(
        type="network-partition",
        peer="west",
        selector={"namespaces": ["db"], "labels": {"app": "pg"}},
    )
    created: list[backends.InjectedFault] = []
    started = time.monotonic()
    with pytest.raises(
        FaultError,
        match=r"selected no targets \(mode all, namespaces=\['db'\], "
        r"labelSelectors=\{'app': 'pg'\}\)",
    ):
        provider(kube).inject(fault, run, created.append)
    assert time.monotonic() - started < 5
    assert len(created) == 1  # reported before waiting, so the engine can remove it


def test_injection_timeout(
    kube: KubeClient, controller: FakeChaosController, run: backends.RunContext
) -> None:
    controller.behaviour["f1"] = "ignore"
    fault = scenario_fault(type="pod-kill", selector={"namespaces": ["db"]})
    with pytest.raises(FaultError, match=r"not confirmed injected within 0.5s"):
        provider(kube).inject(fault, make_run(inject_timeout_seconds=0.5), lambda _f: None)


def test_cancel_interrupts_the_wait(kube: KubeClient, controller: FakeChaosController) -> None:
    controller.behaviour["f1"] = "ignore"
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    fault = scenario_fault(type="pod-kill", selector={"namespaces": ["db"]})
    with pytest.raises(AbortRequested):
        provider(kube).inject(fault, make_run(cancel=cancel), lambda _f: None)


def test_stuck_finalizer_then_force(
    kube: KubeClient, controller: FakeChaosController, run: backends.RunContext
) -> None:
    controller.behaviour["f1"] = "stuck-finalizer"
    p = provider(kube, remove_timeout=0.5, force_grace=0.2)
    [f] = p.inject(
        scenario_fault(type="pod-kill", selector={"namespaces": ["db"]}), run, lambda _f: None
    )
    with pytest.raises(FaultError) as err:
        p.remove(f, make_run(remove_timeout_seconds=0.5))
    text = str(err.value)
    assert f"PodChaos {NS}/{f.name} is still terminating" in text
    assert "chaos-mesh/records" in text and "drillctl cleanup --force" in text
    assert "chaos-daemon not found" in text
    [left] = p.sweep(run_id=run.run_id, older_than_seconds=None)
    assert (left.name, left.run_id, left.kind) == (f.name, run.run_id, "PodChaos")
    with pytest.raises(FaultError, match="still terminating"):
        p.remove_leftover(left, force=False)
    p.remove_leftover(left, force=True)
    assert p.sweep(run_id=None, older_than_seconds=None) == []


def test_sweep_filters_by_run_and_age(kube: KubeClient, controller: FakeChaosController) -> None:
    p = provider(kube)
    fault = scenario_fault(type="pod-kill", selector={"namespaces": ["db"]})
    for run_id in ("r1", "r2"):
        p.inject(fault, make_run(run_id), lambda _f: None)
    assert {x.run_id for x in p.sweep(run_id=None, older_than_seconds=None)} == {"r1", "r2"}
    assert [x.run_id for x in p.sweep(run_id="r2", older_than_seconds=None)] == ["r2"]
    assert p.sweep(run_id=None, older_than_seconds=3600) == []
