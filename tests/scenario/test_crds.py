"""Chaos Mesh manifests checked offline against the vendored upstream CRD schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from runner.cli import exits
from runner.cli.main import cli
from runner.errors import InvalidInputError
from runner.scenario import crds, loader
from tests.infra.upstream import CHAOS_MESH
from tests.scenario import crd_vendoring
from tests.scenario.files import write

UPSTREAM = CHAOS_MESH
EXAMPLES = sorted(UPSTREAM.glob("examples/**/*.yaml"))


def _scenario_with(manifest: object) -> str:
    data = {
        "apiVersion": "drill-runner.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "raw"},
        "spec": {
            "clusters": [{"name": "east"}],
            "faults": [
                {"name": "raw", "type": "chaos-mesh", "cluster": "east", "manifest": manifest}
            ],
        },
    }
    return yaml.safe_dump(data, sort_keys=False)


def _relative(path: Path) -> str:
    return str(path.relative_to(UPSTREAM / "examples"))


FAULT_KINDS = {
    "AWSChaos",
    "AzureChaos",
    "BlockChaos",
    "DNSChaos",
    "GCPChaos",
    "HTTPChaos",
    "IOChaos",
    "JVMChaos",
    "KernelChaos",
    "NetworkChaos",
    "PhysicalMachineChaos",
    "PodChaos",
    "StressChaos",
    "TimeChaos",
}
"""The kinds Chaos Mesh's controllers inject: the only ones a raw fault may have."""


@pytest.mark.parametrize("example", EXAMPLES, ids=_relative)
def test_upstream_examples_load_as_raw_faults(tmp_path: Path, example: Path) -> None:
    """Every valid upstream example loads as pasted; the two RemoteCluster examples lack the
    required spec.version and are rejected naming it."""
    manifest = yaml.safe_load(example.read_text(encoding="utf-8"))
    path = write(tmp_path, "raw.yaml", _scenario_with(manifest))
    if manifest["kind"] != "RemoteCluster":
        scenario = loader.load_scenario(path)
        assert scenario.spec.faults[0].type == "chaos-mesh"
        return
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(path)
    (issue,) = err.value.issues
    assert issue.field == "spec.faults[0].manifest.spec.version"
    assert "version" in issue.message


def test_the_upstream_examples_cover_fault_and_refused_kinds() -> None:
    assert len(EXAMPLES) == 42  # SOURCE.md beside them lists what was copied
    kinds = {yaml.safe_load(e.read_text(encoding="utf-8"))["kind"] for e in EXAMPLES}
    assert len(kinds & FAULT_KINDS) >= 10
    assert {"Schedule", "Workflow", "StatusCheck", "RemoteCluster", "PhysicalMachine"} <= kinds


def test_raw_faults_may_only_have_fault_kinds() -> None:
    refused = set(crds.RAW_FAULT_REFUSALS)
    assert refused | FAULT_KINDS == set(crds.known_kinds())
    assert not refused & FAULT_KINDS
    assert {"PodNetworkChaos", "PodIOChaos", "PodHttpChaos", "StatusCheck", "WorkflowNode"} | {
        "Schedule",
        "Workflow",
        "RemoteCluster",
        "PhysicalMachine",
    } == refused
    for kind in FAULT_KINDS:
        assert crds.raw_fault_refusal(kind) is None, kind
    assert crds.raw_fault_refusal("PodChoas") is None  # unknown: manifest_problems says so
    assert crds.raw_fault_refusal(None) is None
    why = crds.raw_fault_refusal("PodNetworkChaos")
    assert why == (
        "kind PodNetworkChaos is not supported as a raw fault: it is an internal per-pod record "
        "that Chaos Mesh's NetworkChaos controller creates and owns, not a fault to create; "
        "write a NetworkChaos"
    )
    assert "internal record" in str(crds.raw_fault_refusal("WorkflowNode"))
    assert "not a fault: it is a health check" in str(crds.raw_fault_refusal("StatusCheck"))
    assert "could not clean up" in str(crds.raw_fault_refusal("Schedule"))
    assert refused >= crds.INTERNAL_KINDS  # refused at validation; the rest at plan/run time


def test_upstream_objects_that_cannot_run_as_faults_still_validate() -> None:
    """Pasted upstream objects validate; compile refuses them (tests/kube/test_compile.py)."""
    for kind in set(crds.RAW_FAULT_REFUSALS) - crds.INTERNAL_KINDS:
        problems = crds.raw_fault_problems({"apiVersion": crds.API_VERSION, "kind": kind})
        assert all(path != ("kind",) for path, _ in problems), kind


def test_raw_fault_problems_report_a_refused_kind_and_the_api_version_only() -> None:
    internal = {"apiVersion": "chaos-mesh.org/v1", "kind": "PodIOChaos", "spec": {"x": 1}}
    problems = crds.raw_fault_problems(internal)
    assert [path for path, _ in problems] == [("apiVersion",), ("kind",)]
    assert problems[1][1].startswith("kind PodIOChaos is not supported as a raw fault: ")
    assert crds.raw_fault_problems(POD_KILL) == []
    # the schema check alone still knows every kind (and its schema problems, moot above)
    assert crds.validate_manifest({**internal, "apiVersion": crds.API_VERSION}) == [
        ("spec.volumeMountPath", "missing required field 'volumeMountPath'")
    ]


def test_vendored_schemas_equal_the_upstream_crds() -> None:
    expected = crd_vendoring.extract(UPSTREAM / "crds")
    vendored = {p.name for p in crd_vendoring.VENDORED.glob("*.json")}
    assert vendored == set(expected)
    for name, text in expected.items():
        assert (crd_vendoring.VENDORED / name).read_text(encoding="utf-8") == text + "\n", name


def test_kinds_and_plurals() -> None:
    kinds = crds.known_kinds()
    assert len(kinds) == 23
    assert {"NetworkChaos", "PodChaos", "Schedule", "Workflow", "RemoteCluster"} <= set(kinds)
    assert crds.plural("NetworkChaos") == "networkchaos"
    assert crds.plural("Workflow") == "workflows"
    assert crds.namespaced("PodChaos") and not crds.namespaced("RemoteCluster")
    with pytest.raises(KeyError):
        crds.plural("Nope")


POD_KILL = {
    "apiVersion": "chaos-mesh.org/v1alpha1",
    "kind": "PodChaos",
    "metadata": {"name": "kill"},
    "spec": {"action": "pod-kill", "mode": "one", "selector": {"namespaces": ["app"]}},
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({}, [], id="valid"),
        pytest.param(
            {"apiVersion": "chaos-mesh.org/v1"},
            [("apiVersion", "expected 'chaos-mesh.org/v1alpha1', got 'chaos-mesh.org/v1'")],
            id="api-version",
        ),
        pytest.param(
            {"kind": "PodChoas"},
            [("kind", "not a Chaos Mesh kind: 'PodChoas' (did you mean 'PodChaos'?)")],
            id="kind",
        ),
        pytest.param(
            {"spec": {"action": "pod-explode", "mode": "one", "selector": {}}},
            [
                (
                    "spec.action",
                    "expected one of 'pod-kill', 'pod-failure', 'container-kill', "
                    "got 'pod-explode'",
                )
            ],
            id="enum",
        ),
        pytest.param(
            {"spec": {"action": "pod-kill", "mode": "one"}},
            [("spec.selector", "missing required field 'selector'")],
            id="required",
        ),
        pytest.param(
            {"spec": {"action": "pod-kill", "mode": "one", "selector": {"namespaces": "app"}}},
            [("spec.selector.namespaces", "expected a list, got 'app'")],
            id="type",
        ),
    ],
)
def test_validate_manifest(change: dict[str, object], expected: list[tuple[str, str]]) -> None:
    assert crds.validate_manifest({**POD_KILL, **change}) == expected


POD_NETWORK_CHAOS = {
    "apiVersion": "chaos-mesh.org/v1alpha1",
    "kind": "PodNetworkChaos",
    "metadata": {"name": "web-0", "namespace": "app"},
    "spec": {"tcs": [{"type": "netem", "source": "app/delay", "delay": {"latency": "10ms"}}]},
}


@pytest.mark.parametrize("kind", sorted(crds.INTERNAL_KINDS))
def test_a_raw_fault_of_an_internal_kind_is_located_at_its_kind(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path, "raw.yaml", _scenario_with({**POD_NETWORK_CHAOS, "kind": kind}))
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(path)
    (issue,) = err.value.issues
    assert (issue.field, issue.line, issue.column) == ("spec.faults[0].manifest.kind", 14, 13)
    assert issue.message == crds.raw_fault_refusal(kind)
    assert path.read_text().splitlines()[13] == f"      kind: {kind}"


def test_drillctl_validate_refuses_a_pod_network_chaos_at_its_kind_line(tmp_path: Path) -> None:
    path = write(tmp_path, "raw.yaml", _scenario_with(POD_NETWORK_CHAOS))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == exits.INVALID, result.output
    assert result.output.splitlines() == [
        f"{path}:14:13: spec.faults[0].manifest.kind: kind PodNetworkChaos is not supported as "
        "a raw fault: it is an internal per-pod record that Chaos Mesh's NetworkChaos controller "
        "creates and owns, not a fault to create; write a NetworkChaos",
        "1 of 1 files have problems",
    ]


def test_a_bad_manifest_is_located_in_the_scenario(tmp_path: Path) -> None:
    manifest = {**POD_KILL, "spec": {**POD_KILL["spec"], "mode": "most"}}  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(write(tmp_path, "raw.yaml", _scenario_with(manifest)))
    (issue,) = err.value.issues
    assert issue.field == "spec.faults[0].manifest.spec.mode"
    assert issue.line == 19
    assert issue.message.startswith("expected one of 'one', 'all', 'fixed'")
