"""Pre-flight against real RBAC: the restricted user's report lists exactly what is missing."""

from __future__ import annotations

from typing import Any

import pytest

from runner.chaosmesh.preflight import CONTROLLER, preflight
from runner.kube.resources import NAMESPACES
from runner.scenario import model
from tests.envtest.conftest import Envtest
from tests.envtest.helpers import scenario
from tests.envtest.status import status_of
from tests.kube.conftest import make_run

pytestmark = pytest.mark.envtest

CHAOS = "chaos-mesh.org"


def cluster_loss(selector_ns: str) -> model.Scenario:
    doc = scenario(
        {
            "name": "down",
            "type": "cluster-loss",
            "cluster": "east",
            "duration": "5m",
            "namespaces": [selector_ns],
            "isolateNetwork": True,
        },
        {
            "name": "elsewhere",
            "type": "pod-kill",
            "cluster": "west",
            "selector": {"namespaces": ["x"]},
        },
    )
    return model.Scenario.model_validate(doc)


def rule(group: str, resource: str, *verbs: str) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}


def make_ns(envtest: Envtest, name: str, annotations: dict[str, str] | None = None) -> str:
    meta: dict[str, Any] = {"name": name, "annotations": annotations or {}}
    envtest.admins["east"].create(NAMESPACES, {"metadata": meta}, namespace=None, strict=False)
    return name


def test_restricted_user_gets_exactly_the_missing_permissions(envtest: Envtest, ns: str) -> None:
    db = make_ns(envtest, f"{ns}-db")
    envtest.grant(
        "east",
        ns,
        "drill-runner",
        [
            rule("coordination.k8s.io", "leases", "get", "create", "update"),
            rule(CHAOS, "podchaos", "create", "get", "list", "watch", "patch", "delete"),
            rule(CHAOS, "networkchaos", "create", "get", "list", "watch"),
        ],
    )
    envtest.grant("east", db, "drill-runner-targets", [rule(CHAOS, "podchaos", "create")])
    alice = envtest.client("east", "alice")
    try:
        report = preflight(
            alice, cluster="east", namespace=ns, scenario=cluster_loss(db), peers={}, run=make_run()
        )
    finally:
        alice.close()
    assert sorted(report.missing) == sorted(
        [
            f"RBAC: delete leases.coordination.k8s.io in namespace {ns!r}",
            f"RBAC: patch networkchaos.chaos-mesh.org in namespace {ns!r}",
            f"RBAC: delete networkchaos.chaos-mesh.org in namespace {ns!r}",
            f"RBAC: create networkchaos.chaos-mesh.org in namespace {db!r}",
        ]
    )
    assert set(report.notes) == {
        "cannot read CRD networkchaos.chaos-mesh.org; checked by listing instead",
        "cannot read CRD podchaos.chaos-mesh.org; checked by listing instead",
        "cannot read deployment chaos-mesh/chaos-controller-manager: whether the Chaos Mesh "
        "controller runs is not checked",
        f"if Chaos Mesh filters namespaces (ENABLE_FILTER_NAMESPACE), annotate [{db!r}] with "
        "chaos-mesh.org/inject=enabled",
    }


def test_restricted_user_without_list_is_still_one_line_per_permission(
    envtest: Envtest, ns: str
) -> None:
    """No get on CRDs and no list on the chaos kind: the CRD check cannot tell, and says so."""
    db = make_ns(envtest, f"{ns}-db")
    envtest.grant(
        "east",
        ns,
        "drill-runner",
        [
            rule("coordination.k8s.io", "leases", "get", "create", "update", "delete"),
            rule(CHAOS, "podchaos", "create", "get", "list", "watch", "patch", "delete"),
            rule(CHAOS, "networkchaos", "create", "get", "watch", "patch", "delete"),
        ],
    )
    targets = [rule(CHAOS, "podchaos", "create"), rule(CHAOS, "networkchaos", "create")]
    envtest.grant("east", db, "targets", targets)
    alice = envtest.client("east", "alice")
    try:
        report = preflight(
            alice, cluster="east", namespace=ns, scenario=cluster_loss(db), peers={}, run=make_run()
        )
    finally:
        alice.close()
    assert report.missing == (f"RBAC: list networkchaos.chaos-mesh.org in namespace {ns!r}",)
    assert "cannot tell whether CRD networkchaos.chaos-mesh.org is installed" in report.notes
    # the other checks still ran: podchaos is listable, the allow-list check said its piece
    assert "cannot read CRD podchaos.chaos-mesh.org; checked by listing instead" in report.notes
    assert any(n.startswith("cannot read deployment chaos-mesh/") for n in report.notes)


def test_admin_sees_crds_and_the_namespace_allow_list(envtest: Envtest, ns: str) -> None:
    db = make_ns(envtest, f"{ns}-db")
    chaos_ns = make_ns(envtest, f"{ns}-cm")
    admin = envtest.admins["east"]
    run = make_run()

    def check(require_controller: bool = True) -> Any:
        settings = model.ChaosMeshSettings(
            namespace=chaos_ns, require_controller=require_controller
        )
        return preflight(
            admin,
            cluster="east",
            namespace=ns,
            scenario=cluster_loss(db),
            peers={},
            run=run,
            chaos_mesh=settings,
        )

    report = check()
    assert report.missing == (
        f"the Chaos Mesh controller is not running (deployment {chaos_ns}/chaos-controller-manager "
        "not found): faults would never be injected and the run would wait out timeouts.inject. "
        "If it runs in another namespace set chaosMesh.namespace on the target; to run anyway "
        "set chaosMesh.requireController: false",
    )
    report = check(require_controller=False)
    assert report.missing == ()
    assert any("running anyway" in n for n in report.notes)
    assert "CRD podchaos.chaos-mesh.org generated by controller-gen v0.18.0" in report.notes
    controller = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "chaos-controller-manager"},
        "spec": {
            "selector": {"matchLabels": {"app": "cm"}},
            "template": {
                "metadata": {"labels": {"app": "cm"}},
                "spec": {
                    "containers": [
                        {
                            "name": "manager",
                            "image": "ghcr.io/chaos-mesh/chaos-mesh:v2.8.3",
                            "env": [{"name": "ENABLE_FILTER_NAMESPACE", "value": "true"}],
                        }
                    ]
                },
            },
        },
    }
    admin.create(CONTROLLER, controller, namespace=chaos_ns, strict=False)
    current = admin.get(CONTROLLER, "chaos-controller-manager", namespace=chaos_ns)
    admin.replace(  # a Deployment's status is written through /status on a real server
        status_of(CONTROLLER),
        "chaos-controller-manager",
        {**current, "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}},
        namespace=chaos_ns,
    )
    filtered = check()
    assert filtered.missing == (
        f"namespace {db!r} lacks annotation chaos-mesh.org/inject=enabled (Chaos Mesh filters "
        "namespaces, so it would select nothing there)",
    )
    admin.patch(
        NAMESPACES,
        db,
        {"metadata": {"annotations": {"chaos-mesh.org/inject": "enabled"}}},
        namespace=None,
    )
    again = check()
    assert again.missing == ()
