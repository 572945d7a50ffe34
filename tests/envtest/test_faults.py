"""Chaos Mesh objects against a real kube-apiserver: dry-run, inject, confirm, remove."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from runner import backends
from runner.chaosmesh.compile import UNSUPPORTED_RAW, Stamp, compile_fault
from runner.chaosmesh.provider import ChaosMeshFaultProvider
from runner.errors import FaultError
from runner.kube.errors import KubeInvalidError
from runner.kube.resources import CHAOS_KINDS, chaos_resource
from runner.scenario import model
from tests.envtest.conftest import Envtest
from tests.envtest.helpers import fault, missing_leaves
from tests.infra.upstream import EXAMPLES
from tests.kube.conftest import make_run
from tests.kube.fake_controller import FakeChaosController
from tests.kube.test_compile import CASES

pytestmark = pytest.mark.envtest

PEERS = {
    "east": model.Target.model_validate({"kubernetes": {}, "addresses": ["10.1.0.0/16"]}),
    "west": model.Target.model_validate(
        {"kubernetes": {}, "addresses": ["10.2.0.0/16", "db.west"]}
    ),
}
STAMP = Stamp(run_id="20261124-0937-ab12", scenario="site-loss", drill="nightly", operator="ci")


def _examples() -> dict[str, dict[str, Any]]:
    """Every upstream example whose kind is a chaos the runner can create, as a raw fault."""
    out = {}
    for path in sorted(EXAMPLES.glob("**/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"].endswith("Chaos") and doc["kind"] not in UNSUPPORTED_RAW:
                name = f"example {path.relative_to(EXAMPLES)}"
                out[name] = {"type": "chaos-mesh", "manifest": _namespaced(doc), "duration": "1m"}
    return out


def _namespaced(doc: dict[str, Any]) -> dict[str, Any]:
    """The example with its pod selectors' namespaces named, as the runner requires (and a
    user must add to most upstream examples: tests/safety/test_raw_namespaces.py)."""
    spec = doc.get("spec") or {}
    for parent in (spec, spec.get("target") if doc["kind"] == "NetworkChaos" else None):
        selector = parent.get("selector") if isinstance(parent, dict) else None
        if isinstance(selector, dict) and not selector.get("namespaces"):
            selector["namespaces"] = ["app"]
        elif (
            isinstance(parent, dict)
            and "selector" not in parent
            and parent is spec
            and doc["kind"] not in ("AWSChaos", "GCPChaos", "AzureChaos", "PhysicalMachineChaos")
        ):
            parent["selector"] = {"namespaces": ["app"]}
    return doc


ALL_FAULTS = {**CASES, **_examples()}


def test_every_generated_object_passes_server_dry_run(envtest: Envtest, ns: str) -> None:
    """All fault types of compile_fault, and every upstream chaos example, accepted as sent."""
    admin = envtest.admins["east"]
    kinds = set()
    for case, raw in sorted(ALL_FAULTS.items()):
        objects = compile_fault(fault(**raw), namespace=ns, peers=PEERS, stamp=STAMP)
        assert objects, case
        for o in objects:
            kinds.add(o.kind)
            res = chaos_resource(o.kind)
            got = admin.create(res, o.manifest, namespace=ns, dry_run=True)
            # 1.20 ignores fieldValidation=Strict and prunes unknown fields: prove none was.
            assert missing_leaves(o.manifest, got) == [], (case, o.kind)
            assert got["metadata"]["labels"][backends.LABEL_RUN_ID] == STAMP.run_id
    assert len(ALL_FAULTS) >= 35
    assert kinds >= {k for k in CHAOS_KINDS if k.endswith("Chaos")} - {"KernelChaos"}
    for kind in kinds:  # dry-run stores nothing
        assert admin.list(chaos_resource(kind), namespace=ns)["items"] == []


def test_server_rejects_wrong_type_and_enum_with_field_causes(envtest: Envtest, ns: str) -> None:
    """What the local schema check stops is also what the server refuses, field by field."""
    [o] = compile_fault(fault(**CASES["pod-kill one"]), namespace=ns, peers=PEERS, stamp=STAMP)
    bad = {
        **o.manifest,
        "spec": {**o.manifest["spec"], "action": "pod-explode", "gracePeriod": "x"},
    }
    with pytest.raises(KubeInvalidError) as err:
        envtest.admins["east"].create(chaos_resource("PodChaos"), bad, namespace=ns, dry_run=True)
    e = err.value
    assert e.status == 422 and e.cluster == "east"
    assert f"create podchaos.chaos-mesh.org {o.name!r} in namespace {ns!r}" in str(e)
    causes = "\n".join(e.causes)
    assert 'spec.action: Unsupported value: "pod-explode"' in causes
    assert 'spec.gracePeriod: Invalid value: "string"' in causes


def provider(envtest: Envtest, ns: str, **kw: float) -> ChaosMeshFaultProvider:
    return ChaosMeshFaultProvider(
        envtest.admins["east"],
        cluster="east",
        namespace=ns,
        peers=PEERS,
        not_selected_grace=0,
        watch_slice=1.0,
        **kw,
    )


CLUSTER_LOSS = {"type": "cluster-loss", "namespaces": ["db"], "isolateNetwork": True}


def test_inject_confirm_remove(
    envtest: Envtest, ns: str, controllers: dict[str, FakeChaosController]
) -> None:
    admin = envtest.admins["east"]
    p = provider(envtest, ns)
    run = make_run(inject_timeout_seconds=20)
    created: list[backends.InjectedFault] = []
    injected = p.inject(fault(**CLUSTER_LOSS), run, created.append)
    assert [(f.kind, f.injected_at) for f in created] == [
        ("PodChaos", None),
        ("NetworkChaos", None),
    ]
    assert [f.kind for f in injected] == ["PodChaos", "NetworkChaos"]
    assert all(f.injected_at is not None for f in injected)
    for f in injected:  # the status the controller wrote through the API, kept by the schema
        stored = admin.get(chaos_resource(f.kind), f.name, namespace=ns)
        assert stored["metadata"]["finalizers"] == ["chaos-mesh/records"]
        conditions = {c["type"]: c["status"] for c in stored["status"]["conditions"]}
        assert conditions["Selected"] == conditions["AllInjected"] == "True"
        assert stored["spec"]["duration"] == "5m30s"
    for f in injected:
        p.remove(f, run)
        assert admin.get_or_none(chaos_resource(f.kind), f.name, namespace=ns) is None
    p.remove(injected[0], run)  # idempotent


def test_never_selected_fails_fast_naming_the_selector(
    envtest: Envtest, ns: str, controllers: dict[str, FakeChaosController]
) -> None:
    controllers["east"].behaviour["f1"] = "never-select"
    f = fault(
        type="network-partition",
        peer="west",
        selector={"namespaces": ["db"], "labels": {"app": "pg"}},
    )
    created: list[backends.InjectedFault] = []
    started = time.monotonic()
    with pytest.raises(FaultError, match=r"selected no targets \(mode all, namespaces=\['db'\]"):
        provider(envtest, ns).inject(f, make_run(inject_timeout_seconds=20), created.append)
    assert time.monotonic() - started < 10
    assert [c.kind for c in created] == ["NetworkChaos"]  # reported, so it can be removed
    provider(envtest, ns).remove(created[0], make_run())
    assert (
        envtest.admins["east"].get_or_none(
            chaos_resource("NetworkChaos"), created[0].name, namespace=ns
        )
        is None
    )


def test_not_confirmed_in_time(
    envtest: Envtest, ns: str, controllers: dict[str, FakeChaosController]
) -> None:
    controllers["east"].behaviour["f1"] = "ignore"
    f = fault(type="pod-kill", selector={"namespaces": ["db"]})
    with pytest.raises(
        FaultError, match=r"not confirmed injected within 1.5s \(conditions: none\)"
    ):
        provider(envtest, ns).inject(f, make_run(inject_timeout_seconds=1.5), lambda _f: None)


def test_stuck_finalizer_is_reported_then_forced(
    envtest: Envtest, ns: str, controllers: dict[str, FakeChaosController]
) -> None:
    controllers["east"].behaviour["f1"] = "stuck-finalizer"
    p = provider(envtest, ns, remove_timeout=2, force_grace=1)
    partition = fault(type="network-partition", peer="west", selector={"namespaces": ["db"]})
    [f] = p.inject(partition, make_run(inject_timeout_seconds=20), lambda _f: None)
    with pytest.raises(FaultError) as err:
        p.remove(f, make_run(remove_timeout_seconds=2))
    text = str(err.value)
    assert f"NetworkChaos {ns}/{f.name} is still terminating" in text
    assert "['chaos-mesh/records']" in text and "drillctl cleanup --force" in text
    assert "chaos-daemon not found" in text  # a containerRecord valid for the real schema
    stuck = envtest.admins["east"].get(chaos_resource("NetworkChaos"), f.name, namespace=ns)
    assert stuck["metadata"]["deletionTimestamp"]
    [left] = p.sweep(run_id="r1", older_than_seconds=None)
    assert (left.kind, left.name, left.run_id) == ("NetworkChaos", f.name, "r1")
    p.remove_leftover(left, force=True)
    assert p.sweep(run_id=None, older_than_seconds=None) == []
