"""Kubernetes steps of the Kubernetes backend against the emulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from runner.chaosmesh.kube_steps import KubernetesSteps, resource_for
from runner.clock import SystemClock
from runner.errors import StepError
from runner.kube.client import KubeClient, client_from_url
from runner.scenario import model
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.kube.conftest import make_run

DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "pg", "namespace": "db"},
    "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "pg"}}}},
}
REF = {"kind": "Deployment", "name": "pg", "namespace": "db"}


def step(**raw: object) -> model.Step:
    raw.setdefault("name", "s")
    raw.setdefault("cluster", "east")
    failover = model.Failover.model_validate({"steps": [raw]})
    return failover.steps[0]


@pytest.fixture
def kube() -> Iterator[KubeClient]:
    with KubeEmulatorThread(extra=["apps/v1/deployments"]) as emu:
        yield client_from_url(emu.url, cluster="east")


def test_apply_scale_patch_restart_delete(kube: KubeClient) -> None:
    steps = KubernetesSteps(kube, namespace="chaos-drills", clock=SystemClock())
    run = make_run()
    deploy = resource_for("Deployment", None)
    assert "created" in steps.execute(step(action="apply", manifest=DEPLOY), run).output
    assert "updated" in steps.execute(step(action="apply", manifest=DEPLOY), run).output
    steps.execute(step(action="scale", target=REF, replicas=3), run)
    assert kube.get(deploy, "pg", namespace="db")["spec"]["replicas"] == 3
    steps.execute(step(action="patch", target=REF, patch={"metadata": {"labels": {"a": "b"}}}), run)
    steps.execute(
        step(
            action="patch",
            target=REF,
            patchType="json",
            patch=[{"op": "replace", "path": "/spec/replicas", "value": 0}],
        ),
        run,
    )
    steps.execute(step(action="rollout-restart", target=REF), run)
    got = kube.get(deploy, "pg", namespace="db")
    assert got["metadata"]["labels"] == {"a": "b"} and got["spec"]["replicas"] == 0
    assert "kubectl.kubernetes.io/restartedAt" in got["spec"]["template"]["metadata"]["annotations"]
    assert steps.execute(step(action="delete", target=REF), run).output.startswith("deleted")
    assert "already absent" in steps.execute(step(action="delete", target=REF), run).output
    with pytest.raises(StepError, match="not found"):
        steps.execute(step(action="scale", target=REF, replicas=1), run)
    assert steps.supports("exec") and steps.supports("job") and steps.supports("wait-for")
    assert not steps.supports("lab.promote") and not steps.supports("http")


def test_wait_for_condition_and_timeout(kube: KubeClient) -> None:
    steps = KubernetesSteps(kube, namespace="db", clock=SystemClock())
    run = make_run()
    steps.execute(step(action="apply", manifest=DEPLOY), run)
    deploy = resource_for("Deployment", None)
    ready = {"status": {"conditions": [{"type": "Available", "status": "True"}]}}
    threading.Timer(0.3, lambda: kube.patch(deploy, "pg", ready, namespace="db")).start()
    wait = step(
        action="wait-for",
        target={"kind": "Deployment", "name": "pg"},
        condition="Available",
        timeout="10s",
    )
    assert "ready" in steps.execute(wait, run).output
    never = step(action="wait-for", target=REF, field="spec.replicas", equals="5", timeout="500ms")
    with pytest.raises(StepError, match=r"did not reach spec\.replicas == 5 within 0\.5s"):
        steps.execute(never, run)
