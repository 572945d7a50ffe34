"""Every manifest compile_fault generates is valid for its upstream CRD, with no unknown field."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

from runner import backends
from runner.chaosmesh.compile import (
    UNSUPPORTED_RAW,
    ManifestError,
    Stamp,
    chaos_duration,
    compile_fault,
    duration_margin,
    object_name,
)
from runner.scenario import crds, model
from tests.infra.kube_emulator import load_crds, unknown_fields

SCHEMAS = {
    crd["spec"]["names"]["kind"]: crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for crd in load_crds()
}
STAMP = Stamp(run_id="20261124-0937-ab12", scenario="site-loss", drill="nightly", operator="alice")
PEERS = {
    "east": model.Target.model_validate({"kubernetes": {}, "addresses": ["10.1.0.0/16"]}),
    "west": model.Target.model_validate(
        {"kubernetes": {}, "addresses": ["10.2.0.0/16", "db.west"]}
    ),
    "bare": model.Target.model_validate({"kubernetes": {}}),
}
SELECTOR = {
    "namespaces": ["db"],
    "labels": {"app": "pg"},
    "expressions": [{"key": "role", "operator": "In", "values": ["replica"]}],
}


def validate(manifest: dict[str, Any]) -> None:
    schema = SCHEMAS[manifest["kind"]]
    jsonschema.Draft7Validator(schema).validate(manifest)
    assert crds.validate_manifest(manifest) == []
    assert unknown_fields(manifest, schema) == []


def fault(**raw: Any) -> Any:
    raw.setdefault("name", "f1")
    raw.setdefault("cluster", "east")
    raw.setdefault("duration", "5m")
    spec = {"clusters": [{"name": "east"}], "faults": [raw]}
    doc = {
        "apiVersion": model.API_VERSION,
        "kind": "Scenario",
        "metadata": {"name": "s"},
        "spec": spec,
    }
    return model.Scenario.model_validate(doc).spec.faults[0]


CASES = {
    "cluster-loss crash": dict(type="cluster-loss", namespaces=["db", "app"]),
    "cluster-loss crash isolated": dict(
        type="cluster-loss", namespaces=["db"], isolateNetwork=True
    ),
    "cluster-loss hang": dict(type="cluster-loss", namespaces=["db"], effect="hang"),
    "partition both": dict(type="network-partition", peer="west", selector=SELECTOR),
    "partition to": dict(type="network-partition", peer="west", selector=SELECTOR, direction="to"),
    "partition from": dict(
        type="network-partition", peer="west", selector={"namespaces": ["db"]}, direction="from"
    ),
    "partition pods": dict(
        type="network-partition", peer="west", selector={"pods": {"db": ["pg-0"]}}
    ),
    "lag delay": dict(
        type="replication-lag",
        peer="west",
        selector=SELECTOR,
        delay={"latency": "200ms", "jitter": "20ms", "correlation": 25},
    ),
    "lag bandwidth": dict(
        type="replication-lag", peer="west", selector=SELECTOR, bandwidth={"rate": "1mbps"}
    ),
    "lag both": dict(
        type="replication-lag",
        peer="west",
        selector=SELECTOR,
        delay={"latency": "1s"},
        bandwidth={"rate": "10kbps", "limit": 100, "buffer": 50},
    ),
    "pod-kill one": dict(type="pod-kill", selector=SELECTOR),
    "pod-kill fixed": dict(
        type="pod-kill", selector=SELECTOR, mode="fixed", value="2", gracePeriod=5
    ),
    "pod-kill percent": dict(type="pod-kill", selector=SELECTOR, mode="fixed-percent", value="50"),
    "raw stress": dict(
        type="chaos-mesh",
        manifest={
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "StressChaos",
            "metadata": {"name": "x", "namespace": "other", "labels": {"team": "db"}},
            "spec": {
                "mode": "one",
                "selector": {"namespaces": ["db"]},
                "stressors": {"cpu": {"workers": 2, "load": 80}},
            },
        },
    ),
    "raw aws": dict(
        type="chaos-mesh",
        duration=None,
        manifest={
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "AWSChaos",
            "metadata": {"name": "x"},
            "spec": {
                "action": "ec2-stop",
                "awsRegion": "eu-west-1",
                "ec2Instance": "i-0123",
                "secretName": "cloud-key",
                "duration": "5m",
            },
        },
    ),
    "raw gcp reset": dict(
        type="chaos-mesh",
        duration=None,
        manifest={
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "GCPChaos",
            "metadata": {"name": "x"},
            "spec": {
                "action": "node-reset",
                "project": "p",
                "zone": "europe-west1-b",
                "instance": "gke-node-1",
            },
        },
    ),
    "raw azure": dict(
        type="chaos-mesh",
        manifest={
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "AzureChaos",
            "metadata": {"name": "x"},
            "spec": {
                "action": "vm-stop",
                "subscriptionID": "s",
                "resourceGroupName": "rg",
                "vmName": "vm1",
            },
        },
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_manifest_validates_and_is_stamped(case: str) -> None:
    f = fault(**CASES[case])
    objects = compile_fault(f, namespace="chaos-drills", peers=PEERS, stamp=STAMP)
    assert objects
    names = {o.name for o in objects}
    assert len(names) == len(objects)
    for o in objects:
        validate(o.manifest)
        meta = o.manifest["metadata"]
        assert meta["namespace"] == o.namespace == "chaos-drills"
        assert meta["name"] == o.name and len(o.name) <= 63 and o.name.startswith(STAMP.run_id)
        assert meta["labels"][backends.LABEL_MANAGED_BY] == backends.MANAGED_BY
        assert meta["labels"][backends.LABEL_RUN_ID] == STAMP.run_id
        assert meta["labels"][backends.LABEL_SCENARIO] == "site-loss"
        assert meta["labels"][backends.LABEL_FAULT] == "f1"
        assert meta["annotations"] == {
            **meta["annotations"],
            backends.ANNOTATION_DRILL: "nightly",
            backends.ANNOTATION_OPERATOR: "alice",
        }
        spec = o.manifest["spec"]
        assert spec.get("duration") or o.one_shot
        if "selector" in spec and o.manifest["kind"] in ("PodChaos", "NetworkChaos"):
            assert spec["selector"]["namespaces"]


def test_cluster_loss_shapes() -> None:
    crash = compile_fault(
        fault(**CASES["cluster-loss crash isolated"]), namespace="n", peers=PEERS, stamp=STAMP
    )
    assert [(o.kind, o.manifest["spec"]["action"]) for o in crash] == [
        ("PodChaos", "pod-failure"),
        ("NetworkChaos", "partition"),
    ]
    assert crash[0].manifest["spec"]["mode"] == "all"
    assert crash[1].manifest["spec"]["direction"] == "both"
    assert "externalTargets" not in crash[1].manifest["spec"]
    hang = compile_fault(
        fault(**CASES["cluster-loss hang"]), namespace="n", peers=PEERS, stamp=STAMP
    )
    assert [o.kind for o in hang] == ["NetworkChaos"]


def test_partition_and_lag_use_peer_addresses() -> None:
    [p] = compile_fault(fault(**CASES["partition to"]), namespace="n", peers=PEERS, stamp=STAMP)
    assert p.manifest["spec"]["externalTargets"] == ["10.2.0.0/16", "db.west"]
    assert p.manifest["spec"]["direction"] == "to"
    assert p.manifest["spec"]["selector"] == {
        "namespaces": ["db"],
        "labelSelectors": {"app": "pg"},
        "expressionSelectors": [{"key": "role", "operator": "In", "values": ["replica"]}],
    }
    lag = compile_fault(fault(**CASES["lag both"]), namespace="n", peers=PEERS, stamp=STAMP)
    assert [o.manifest["spec"]["action"] for o in lag] == ["delay", "bandwidth"]
    assert lag[0].manifest["spec"]["delay"] == {"latency": "1s", "jitter": "0s", "correlation": "0"}
    assert lag[1].manifest["spec"]["bandwidth"] == {"rate": "10kbps", "limit": 100, "buffer": 50}


def test_peer_without_addresses_is_a_clear_error() -> None:
    with pytest.raises(ManifestError, match=r"peer target 'bare' has no 'addresses'"):
        compile_fault(
            fault(type="network-partition", peer="bare", selector=SELECTOR),
            namespace="n",
            peers=PEERS,
            stamp=STAMP,
        )
    with pytest.raises(ManifestError, match="not a target of the drill"):
        compile_fault(
            fault(type="replication-lag", peer="nope", selector=SELECTOR, delay={"latency": "1s"}),
            namespace="n",
            peers=PEERS,
            stamp=STAMP,
        )


def test_empty_namespaces_are_refused() -> None:
    with pytest.raises(ManifestError, match=r"selector\.namespaces is empty"):
        compile_fault(
            fault(type="pod-kill", selector={"labels": {"a": "b"}}),
            namespace="n",
            peers=PEERS,
            stamp=STAMP,
        )


def test_raw_manifest_only_metadata_and_duration_change() -> None:
    f = fault(**CASES["raw stress"])
    [o] = compile_fault(f, namespace="chaos-drills", peers=PEERS, stamp=STAMP)
    assert o.manifest["spec"] == {**f.manifest["spec"], "duration": chaos_duration(f.duration)}
    assert o.manifest["metadata"]["labels"]["team"] == "db"
    assert f.manifest["metadata"]["name"] == "x"  # the scenario's own model is untouched
    [aws] = compile_fault(fault(**CASES["raw aws"]), namespace="n", peers=PEERS, stamp=STAMP)
    assert aws.manifest["spec"]["duration"] == "5m"
    [gcp] = compile_fault(fault(**CASES["raw gcp reset"]), namespace="n", peers=PEERS, stamp=STAMP)
    assert gcp.one_shot and "duration" not in gcp.manifest["spec"]


@pytest.mark.parametrize(
    "manifest,match",
    [
        ({"apiVersion": "v1", "kind": "Pod", "spec": {}}, "must be a chaos-mesh.org object"),
        (
            {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Workflow", "spec": {}},
            "not supported",
        ),
        (
            {
                "apiVersion": "chaos-mesh.org/v1alpha1",
                "kind": "PodChaos",
                "spec": {"action": "pod-failure", "selector": {"namespaces": ["db"]}},
            },
            "give 'duration'",
        ),
        (
            {
                "apiVersion": "chaos-mesh.org/v1alpha1",
                "kind": "PodChaos",
                "spec": {
                    "action": "pod-explode",
                    "mode": "all",
                    "selector": {"namespaces": ["db"]},
                    "duration": "1m",
                },
            },
            "is invalid: spec.action",
        ),
    ],
)
def test_raw_manifest_refusals(manifest: dict[str, Any], match: str) -> None:
    with pytest.raises(ManifestError, match=match):
        compile_fault(
            fault(type="chaos-mesh", duration=None, manifest=manifest),
            namespace="n",
            peers=PEERS,
            stamp=STAMP,
        )


@pytest.mark.parametrize("kind", sorted(crds.RAW_FAULT_REFUSALS))
def test_compile_refuses_the_kinds_validation_refuses(kind: str) -> None:
    """The same kinds and reasons as `drillctl validate`, even for a model built in code."""
    manifest = {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": kind, "spec": {}}
    with pytest.raises(ManifestError) as err:
        compile_fault(
            fault(type="chaos-mesh", duration="1m", manifest=manifest),
            namespace="n",
            peers=PEERS,
            stamp=STAMP,
        )
    assert str(err.value) == f"fault 'f1': {crds.raw_fault_refusal(kind)}"
    assert kind in UNSUPPORTED_RAW
    assert str(err.value).startswith(f"fault 'f1': kind {kind} is not supported as a raw fault: ")


def test_duration_margin_and_names() -> None:
    assert duration_margin(timedelta(minutes=1)) == timedelta(seconds=30)
    assert duration_margin(timedelta(minutes=20)) == timedelta(minutes=2)
    assert duration_margin(timedelta(hours=5)) == timedelta(minutes=5)
    assert chaos_duration(timedelta(minutes=5)) == "5m30s"
    long = object_name("r" * 40, "fault-" + "x" * 40, "bandwidth")
    assert len(long) <= 63 and long != object_name("r" * 40, "fault-" + "x" * 41, "bandwidth")
    assert object_name("Run_1", "f") == "run-1-f"


def test_an_unknown_fault_type_is_refused_never_compiled_as_another() -> None:
    """Before the exhaustive dispatch, any fault type the compiler did not know fell
    through to pod-kill: a fault of a new type (here with every field pod-kill reads)
    would have killed pods."""
    known = fault(type="pod-kill", name="kill", selector=SELECTOR)
    stranger = SimpleNamespace(**{**vars(known), "type": "dns-outage"})
    assert compile_fault(known, namespace="chaos", peers=PEERS, stamp=STAMP)
    with pytest.raises(ManifestError, match="type 'dns-outage' is not supported by Chaos Mesh"):
        compile_fault(stranger, namespace="chaos", peers=PEERS, stamp=STAMP)  # type: ignore[arg-type]
