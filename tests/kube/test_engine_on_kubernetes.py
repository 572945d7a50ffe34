"""The drill engine driving the Chaos Mesh backend over real HTTP: every abort path leaves no
chaos object and no Lease holder in the (emulated) cluster."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.backends import LABEL_MANAGED_BY
from runner.clock import SystemClock
from runner.engine import events as ev
from runner.engine.drill import AbortSignal, DrillRun, RunResult
from runner.engine.targets import open_targets
from runner.engine.verdict import Status
from runner.kube.client import KubeClient, client_from_url
from runner.kube.resources import chaos_resource
from runner.scenario import model
from runner.steps.generic import GenericStepExecutor
from tests.infra.kube_emulator import KubeEmulatorThread, load_crds
from tests.infra.kubeconfig import write_kubeconfig
from tests.kube.fake_controller import FakeChaosController

NS = "chaos-drills"
KINDS = ("PodChaos", "NetworkChaos")


@pytest.fixture
def cluster() -> Iterator[tuple[KubeEmulatorThread, KubeClient, FakeChaosController]]:
    with KubeEmulatorThread(crds=load_crds(), extra=["apps/v1/deployments"]) as emu:
        client = client_from_url(emu.url, cluster="emu", timeout=5)
        client.create(
            _deployments(),
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "shop", "namespace": "shop"},
                "spec": {"replicas": 0, "template": {"metadata": {"labels": {"app": "shop"}}}},
            },
            namespace="shop",
        )
        with FakeChaosController(client, NS) as controller:
            yield emu, client, controller
        client.close()


def _deployments() -> Any:
    from runner.chaosmesh.kube_steps import resource_for

    return resource_for("Deployment", None)


def _drill(tmp_path: Path, url: str) -> model.Drill:
    write_kubeconfig(tmp_path / "kubeconfig", url, token="secret-token")
    kube = {"kubeconfig": str(tmp_path / "kubeconfig"), "context": "emu", "namespace": NS}
    return model.Drill.model_validate(
        {
            "apiVersion": "drill-runner.dev/v1alpha1",
            "kind": "Drill",
            "metadata": {"name": "k8s"},
            "spec": {
                "scenarios": [{"path": "x.yaml"}],
                "targets": {
                    "primary": {"kubernetes": kube, "addresses": ["10.1.0.0/16"]},
                    "secondary": {"kubernetes": kube, "addresses": ["10.2.0.0/16"]},
                },
            },
        }
    )


def _scenario(failover: list[dict[str, Any]]) -> model.Scenario:
    return model.Scenario.model_validate(
        {
            "apiVersion": "drill-runner.dev/v1alpha1",
            "kind": "Scenario",
            "metadata": {"name": "k8s-failover"},
            "spec": {
                "clusters": [{"name": "primary"}, {"name": "secondary"}],
                "faults": [
                    {
                        "name": "lose-primary",
                        "type": "cluster-loss",
                        "cluster": "primary",
                        "namespaces": ["shop"],
                        "isolateNetwork": True,
                        "duration": "5m",
                    },
                    {
                        "name": "cut",
                        "type": "network-partition",
                        "cluster": "primary",
                        "peer": "secondary",
                        "selector": {"namespaces": ["db"]},
                        "duration": "5m",
                    },
                ],
                "failover": {"steps": failover},
                "failback": {
                    "policy": "always",
                    "steps": [
                        {
                            "name": "scale back",
                            "action": "scale",
                            "cluster": "secondary",
                            "target": {"kind": "Deployment", "namespace": "shop", "name": "shop"},
                            "replicas": 0,
                        }
                    ],
                },
                "timeouts": {"observe": "0s", "inject": "20s", "remove": "20s"},
            },
        }
    )


SCALE_UP = {
    "name": "scale up",
    "action": "scale",
    "cluster": "secondary",
    "target": {"kind": "Deployment", "namespace": "shop", "name": "shop"},
    "replicas": 3,
}
WAIT = {"name": "wait", "action": "sleep", "duration": "60s"}
BROKEN = {  # fails when it runs (a missing target would be refused by preflight)
    "name": "a failing check",
    "action": "command",
    "command": ["false"],
}


def _run(tmp_path: Path, url: str, sc: model.Scenario, abort_on: str | None) -> RunResult:
    drill = _drill(tmp_path, url)
    abort = AbortSignal()

    def on_event(e: ev.Event) -> None:
        if isinstance(e, ev.StepStarted) and e.step == abort_on:
            threading.Timer(0.2, abort.request, args=("operator pressed Ctrl-C",)).start()

    with open_targets(drill, drill_dir=tmp_path) as targets:
        return DrillRun(
            scenario=sc,
            scenario_path=tmp_path / "x.yaml",
            drill=drill,
            drill_path=tmp_path / "d.yaml",
            targets=targets,
            metrics=None,
            generic_steps=GenericStepExecutor(),
            clock=SystemClock(),
            results_dir=tmp_path / "results",
            run_id="k8s-run-0001",
            operator="pytest",
            abort=abort,
            on_event=on_event,
        ).execute()


def _left(client: KubeClient) -> list[str]:
    names = []
    for kind in KINDS:
        items = client.list(
            chaos_resource(kind), namespace=NS, label_selector=f"{LABEL_MANAGED_BY}=drill-runner"
        )["items"]
        names += [f"{kind}/{i['metadata']['name']}" for i in items]
    return names


@pytest.mark.parametrize(
    ("failover", "abort_on", "status"),
    [
        pytest.param([SCALE_UP], None, Status.PASSED, id="completes"),
        pytest.param([SCALE_UP, WAIT], "wait", Status.ABORTED, id="ctrl-c-mid-failover"),
        pytest.param([BROKEN], None, Status.ERROR, id="failed-step"),
    ],
)
def test_every_exit_path_leaves_no_chaos_object(
    tmp_path: Path,
    cluster: tuple[KubeEmulatorThread, KubeClient, FakeChaosController],
    failover: list[dict[str, Any]],
    abort_on: str | None,
    status: Status,
) -> None:
    emu, client, _ = cluster
    result = _run(tmp_path, emu.url, _scenario(failover), abort_on)
    assert result.status == status, result.reason
    created = [f"{f['kind']}/{f['name']}" for f in result.record.to_json()["faults"]]
    assert len(created) == 3  # PodChaos + isolating NetworkChaos + partition
    assert all(f["recoveredAt"] for f in result.record.to_json()["faults"])
    assert _left(client) == []
    shop = client.get(_deployments(), "shop", namespace="shop")
    assert shop["spec"]["replicas"] == 0  # failback (policy always) ran on every path
    text = (result.record_dir / "run.json").read_text() + (
        result.record_dir / "events.jsonl"
    ).read_text()
    assert "secret-token" not in text


def test_a_fault_that_selects_nothing_removes_what_was_created(
    tmp_path: Path, cluster: tuple[KubeEmulatorThread, KubeClient, FakeChaosController]
) -> None:
    emu, client, controller = cluster
    controller.behaviour["cut"] = "never-select"
    result = _run(tmp_path, emu.url, _scenario([SCALE_UP]), None)
    assert result.status == Status.ERROR and "selected no targets" in result.reason
    assert _left(client) == []
