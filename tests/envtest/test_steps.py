"""Kubernetes failover/failback steps against a real API server (no kubelet, no controllers)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from runner.chaosmesh.kube_steps import KubernetesSteps, resource_for
from runner.clock import SystemClock
from runner.errors import StepError
from runner.kube.resources import Resource
from runner.scenario import model
from tests.envtest.conftest import Envtest
from tests.envtest.status import status_of
from tests.kube.conftest import make_run

pytestmark = pytest.mark.envtest

DEPLOY = resource_for("Deployment", None)


def deployment(name: str = "pg") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "pg", "image": "postgres:15"},
                        {"name": "exporter", "image": "exporter:1"},
                    ]
                },
            },
        },
    }


def step(**raw: Any) -> model.Step:
    raw.setdefault("name", "s")
    raw.setdefault("cluster", "east")
    return model.Failover.model_validate({"steps": [raw]}).steps[0]


def ref(name: str = "pg", kind: str = "Deployment") -> dict[str, str]:
    return {"kind": kind, "name": name}


def test_apply_scale_patch_restart_delete(envtest: Envtest, ns: str) -> None:
    kube = envtest.admins["east"]
    steps = KubernetesSteps(kube, namespace=ns, clock=SystemClock())
    run = make_run()
    out = steps.execute(step(action="apply", manifest=deployment()), run).output
    assert out == f"created Deployment {ns}/pg"
    changed = deployment()
    changed["metadata"]["labels"] = {"tier": "db"}
    out = steps.execute(step(action="apply", manifest=changed), run).output
    assert out == f"updated Deployment {ns}/pg"
    assert kube.get(DEPLOY, "pg", namespace=ns)["metadata"]["labels"] == {"tier": "db"}

    assert steps.execute(step(action="scale", target=ref(), replicas=3), run).output == (
        f"scaled Deployment {ns}/pg to 3"
    )
    assert kube.get(DEPLOY, "pg", namespace=ns)["spec"]["replicas"] == 3

    # strategic merge: containers merge by name, so only the image of "pg" changes
    image = {"spec": {"template": {"spec": {"containers": [{"name": "pg", "image": "pg:16"}]}}}}
    steps.execute(step(action="patch", target=ref(), patch=image, patchType="strategic"), run)
    containers = kube.get(DEPLOY, "pg", namespace=ns)["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("pg", "pg:16"),
        ("exporter", "exporter:1"),
    ]
    json_patch = [{"op": "replace", "path": "/spec/replicas", "value": 0}]
    steps.execute(step(action="patch", target=ref(), patch=json_patch, patchType="json"), run)
    # a JSON merge patch replaces the whole list
    steps.execute(step(action="patch", target=ref(), patch=image), run)
    got = kube.get(DEPLOY, "pg", namespace=ns)
    assert got["spec"]["replicas"] == 0
    assert [c["name"] for c in got["spec"]["template"]["spec"]["containers"]] == ["pg"]

    generation = got["metadata"]["generation"]
    assert steps.execute(step(action="rollout-restart", target=ref()), run).output == (
        f"restarted Deployment {ns}/pg"
    )
    got = kube.get(DEPLOY, "pg", namespace=ns)
    assert "kubectl.kubernetes.io/restartedAt" in got["spec"]["template"]["metadata"]["annotations"]
    assert got["metadata"]["generation"] == generation + 1  # a new rollout for a controller

    assert steps.execute(step(action="delete", target=ref()), run).output == (
        f"deleted Deployment {ns}/pg"
    )
    assert kube.get_or_none(DEPLOY, "pg", namespace=ns) is None
    assert steps.execute(step(action="delete", target=ref()), run).output == (
        f"Deployment {ns}/pg was already absent"
    )


def test_wait_for_condition_set_through_the_status_subresource(envtest: Envtest, ns: str) -> None:
    kube = envtest.admins["east"]
    steps = KubernetesSteps(kube, namespace=ns, clock=SystemClock())
    run = make_run()
    steps.execute(step(action="apply", manifest=deployment()), run)
    # No controller runs here: the test plays the deployment controller.
    available = {
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "MinimumReplicasAvailable",
                    "lastUpdateTime": "2026-01-01T00:00:00Z",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        }
    }
    timer = threading.Timer(
        0.5, lambda: kube.patch(status_of(DEPLOY), "pg", available, namespace=ns)
    )
    timer.start()
    wait = step(action="wait-for", target=ref(), condition="Available", timeout="15s")
    assert steps.execute(wait, run).output == (
        f"Deployment {ns}/pg is ready (status.conditions[type=\"Available\"].status = 'True')"
    )
    timer.join()
    field = step(
        action="wait-for", target=ref(), field="status.observedGeneration", equals="1", timeout="5s"
    )
    assert steps.execute(field, run).output == (
        f"Deployment {ns}/pg is ready (status.observedGeneration = 1)"
    )
    # status in a write to the object itself is ignored by the real server
    kube.patch(DEPLOY, "pg", {"status": {"observedGeneration": 7}}, namespace=ns)
    never = step(
        action="wait-for",
        target=ref(),
        field="status.observedGeneration",
        equals="7",
        timeout="1500ms",
    )
    with pytest.raises(
        StepError, match=r"did not reach status\.observedGeneration == 7 within 1\.5s"
    ):
        steps.execute(never, run)


def test_messages_for_forbidden_not_found_and_unknown_types(envtest: Envtest, ns: str) -> None:
    admin = envtest.admins["east"]
    admin.create(DEPLOY, deployment(), namespace=ns, strict=False)
    envtest.grant(
        "east",
        ns,
        "read-only",
        [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}],
    )
    run = make_run()
    alice = envtest.client("east", "alice")
    try:
        steps = KubernetesSteps(alice, namespace=ns, clock=SystemClock())
        with pytest.raises(StepError) as err:
            steps.execute(step(name="promote west", action="scale", target=ref(), replicas=2), run)
        assert str(err.value) == (
            f"cluster 'east': patch deployments.apps 'pg' in namespace "
            f'{ns!r}: forbidden: deployments.apps "pg" is forbidden: User "alice" cannot '
            f'patch resource "deployments" in API group "apps" in the namespace "{ns}"; '
            f"grant verb 'patch' on deployments.apps 'pg' in namespace {ns!r} to the runner's "
            "identity (see docs/chaos-mesh.md, RBAC)"
        )
        assert envtest.planes["east"].user_token not in str(err.value)
    finally:
        alice.close()
    steps = KubernetesSteps(admin, namespace=ns, clock=SystemClock())
    with pytest.raises(StepError) as err:
        steps.execute(step(action="scale", target=ref("nope"), replicas=1), run)
    assert str(err.value) == (
        f"cluster 'east': patch deployments.apps 'nope' in namespace {ns!r}: "
        'not found: deployments.apps "nope" not found'
    )
    crd_kind = {
        "kind": "PostgresCluster",
        "apiVersion": "postgres-operator.crunchydata.com/v1beta1",
    }
    with pytest.raises(StepError, match=r"PostgresCluster .* is not served by cluster 'east'"):
        steps.execute(step(action="scale", target={**crd_kind, "name": "pg"}, replicas=1), run)
    with pytest.raises(StepError, match="kind 'Widget' is not built in: give its apiVersion"):
        steps.execute(step(action="delete", target=ref("w", kind="Widget")), run)


def test_steps_on_kinds_outside_the_built_in_table(envtest: Envtest, ns: str) -> None:
    """Steps address any served kind by apiVersion: a NetworkPolicy, a Chaos Mesh object."""
    admin = envtest.admins["east"]
    steps = KubernetesSteps(admin, namespace=ns, clock=SystemClock())
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "fence"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    run = make_run()
    assert steps.execute(step(action="apply", manifest=policy), run).output == (
        f"created NetworkPolicy {ns}/fence"
    )
    fence = {"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1", "name": "fence"}
    assert steps.execute(step(action="delete", target=fence), run).output == (
        f"deleted NetworkPolicy {ns}/fence"
    )
    chaos = {
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": "PodChaos",
        "metadata": {"name": "manual"},
        "spec": {"action": "pod-failure", "mode": "all", "selector": {"namespaces": ["db"]}},
    }
    assert steps.execute(step(action="apply", manifest=chaos), run).output == (
        f"created PodChaos {ns}/manual"
    )
    target = {"kind": "PodChaos", "apiVersion": "chaos-mesh.org/v1alpha1", "name": "manual"}
    pause = {"metadata": {"annotations": {"experiment.chaos-mesh.org/pause": "true"}}}
    steps.execute(step(action="patch", target=target, patch=pause), run)
    with pytest.raises(StepError, match=r"HTTP 415 UnsupportedMediaType"):
        steps.execute(step(action="patch", target=target, patch=pause, patchType="strategic"), run)
    assert steps.execute(step(action="delete", target=target), run).output.startswith("deleted")
    podchaos = Resource("chaos-mesh.org", "v1alpha1", "podchaos", "PodChaos")
    assert admin.get_or_none(podchaos, "manual", namespace=ns) is None
