"""Pre-flight lists every missing permission, CRD and namespace annotation in one report."""

from __future__ import annotations

import json
from pathlib import Path

from runner.chaosmesh.backend import open_kubernetes_target
from runner.chaosmesh.kube_steps import resource_for
from runner.chaosmesh.preflight import CONTROLLER, preflight
from runner.kube.client import client_from_url
from runner.kube.resources import NAMESPACES
from runner.scenario import loader, model
from tests.infra.kube_emulator import KubeEmulatorThread, load_crds
from tests.kube.conftest import NS, make_run
from tests.kube.fake_controller import publish_deployment

SCENARIO = model.Scenario.model_validate(
    {
        "apiVersion": model.API_VERSION,
        "kind": "Scenario",
        "metadata": {"name": "s"},
        "spec": {
            "clusters": [{"name": "east"}],
            "faults": [
                {
                    "name": "down",
                    "type": "cluster-loss",
                    "cluster": "east",
                    "duration": "5m",
                    "namespaces": ["db"],
                    "isolateNetwork": True,
                },
                {
                    "name": "elsewhere",
                    "type": "pod-kill",
                    "cluster": "west",
                    "duration": "1m",
                    "selector": {"namespaces": ["x"]},
                },
            ],
        },
    }
)


def test_ready_target_has_an_empty_report(emulator: KubeEmulatorThread) -> None:
    kube = client_from_url(emulator.url, cluster="east")
    report = preflight(
        kube, cluster="east", namespace=NS, scenario=SCENARIO, peers={}, run=make_run()
    )
    assert report.cluster == "east" and report.missing == ()
    assert any("controller-gen v0.18.0" in n for n in report.notes)


def test_everything_missing_is_listed() -> None:
    crds = [c for c in load_crds() if c["spec"]["names"]["kind"] != "NetworkChaos"]
    with KubeEmulatorThread(crds=crds, extra=["apps/v1/deployments"]) as emu:
        emu.call(lambda h: h.denied.update({("delete", "podchaos"), ("update", "leases")}))
        kube = client_from_url(emu.url, cluster="east")
        kube.create(
            CONTROLLER,
            {
                "metadata": {"name": "chaos-controller-manager"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "m",
                                    "env": [{"name": "ENABLE_FILTER_NAMESPACE", "value": "true"}],
                                }
                            ]
                        }
                    }
                },
                "status": {"availableReplicas": 1},
            },
            namespace="chaos-mesh",
            strict=False,
        )
        emu.call(lambda h: h.add_namespace("db"))
        assert kube.get(NAMESPACES, "db", namespace=None)["metadata"]["name"] == "db"
        report = preflight(
            kube, cluster="east", namespace=NS, scenario=SCENARIO, peers={}, run=make_run()
        )
        emu.call(lambda h: h.add_namespace("db", {"chaos-mesh.org/inject": "enabled"}))
        again = preflight(
            kube, cluster="east", namespace=NS, scenario=SCENARIO, peers={}, run=make_run()
        )
    assert len(again.missing) == 3 and not any("annotation" in m for m in again.missing)
    assert set(report.missing) == {
        "RBAC: update leases.coordination.k8s.io in namespace 'chaos-drills'",
        "RBAC: delete podchaos.chaos-mesh.org in namespace 'chaos-drills'",
        "CRD networkchaos.chaos-mesh.org is not installed (install Chaos Mesh >= 2.8)",
        "namespace 'db' lacks annotation chaos-mesh.org/inject=enabled (Chaos Mesh filters "
        "namespaces, so it would select nothing there)",
    }


def test_backend_opens_from_kubeconfig(tmp_path: Path, emulator: KubeEmulatorThread) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "e",
        "clusters": [{"name": "e", "cluster": {"server": emulator.url}}],
        "contexts": [{"name": "e", "context": {"cluster": "e", "user": "u"}}],
        "users": [{"name": "u", "user": {}}],
    }
    (tmp_path / "kc").write_text(json.dumps(config))
    (tmp_path / "d.yaml").write_text(
        "apiVersion: drill-runner.dev/v1alpha1\nkind: Drill\nmetadata: {name: d}\nspec:\n"
        "  scenarios: [{path: s.yaml}]\n"
        f"  targets: {{east: {{kubernetes: {{kubeconfig: kc, namespace: {NS}}}}}}}\n"
    )
    target = loader.load_drill(tmp_path / "d.yaml").spec.targets["east"]  # kc: beside d.yaml
    backend = open_kubernetes_target("east", target, drill_dir=tmp_path, peers={"east": target})
    try:
        assert backend.steps.supports("scale") and backend.steps.supports("exec")
        assert not backend.steps.supports("lab.route")
        assert backend.observed(fault_start=None, hold_seconds=0, until=None) is None  # type: ignore[arg-type]
        report = backend.preflight(SCENARIO, make_run())
        assert report.missing == ()
        assert "namespace chaos-drills" in backend.description
    finally:
        backend.close()


def test_the_permissions_of_the_scenarios_own_steps_are_checked() -> None:
    raw = SCENARIO.model_dump(mode="json", by_alias=True)
    raw["spec"]["failover"] = {
        "steps": [
            {
                "name": "scale",
                "action": "scale",
                "cluster": "east",
                "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                "replicas": 3,
            },
            {
                "name": "elsewhere",
                "action": "delete",
                "cluster": "west",
                "target": {"kind": "Deployment", "namespace": "shop", "name": "web"},
            },
        ]
    }
    raw["spec"]["failback"] = {
        "steps": [
            {
                "name": "job",
                "action": "job",
                "cluster": "east",
                "manifest": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"name": "j"},
                    "spec": {},
                },
            },
        ]
    }
    scenario = model.Scenario.model_validate(raw)
    with KubeEmulatorThread(
        crds=load_crds(), extra=["apps/v1/deployments", "batch/v1/jobs"]
    ) as emu:
        kube = client_from_url(emu.url, cluster="east")
        web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
        kube.create(resource_for("Deployment", None), web, namespace="shop")
        publish_deployment(kube)
        emu.call(lambda h: h.denied.update({("patch", "deployments"), ("create", "jobs")}))
        report = preflight(
            kube, cluster="east", namespace=NS, scenario=scenario, peers={}, run=make_run()
        )
    assert set(report.missing) == {
        "RBAC: patch deployments.apps in namespace 'shop'",
        "RBAC: create jobs.batch in namespace 'chaos-drills'",
    }
