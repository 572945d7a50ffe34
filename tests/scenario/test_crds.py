"""Chaos Mesh manifests checked offline against the vendored upstream CRD schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.errors import InvalidInputError
from runner.scenario import crds, loader
from tests.infra.shared import CHAOS_MESH
from tests.scenario import crd_vendoring
from tests.scenario.files import write

UPSTREAM = CHAOS_MESH
EXAMPLES = sorted(UPSTREAM.glob("examples/**/*.yaml"))
REMOTE_CLUSTER = {"remote-cluster.yaml", "remote-cluster/remote-cluster.yaml"}
needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason="no upstream Chaos Mesh copy")


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


@needs_upstream
@pytest.mark.parametrize("example", EXAMPLES, ids=_relative)
def test_upstream_examples_load_as_raw_faults(tmp_path: Path, example: Path) -> None:
    manifest = yaml.safe_load(example.read_text(encoding="utf-8"))
    path = write(tmp_path, "raw.yaml", _scenario_with(manifest))
    if _relative(example) in REMOTE_CLUSTER:
        with pytest.raises(InvalidInputError) as err:
            loader.load_scenario(path)
        (issue,) = err.value.issues
        assert issue.field == "spec.faults[0].manifest.spec.version"
        assert issue.message == "missing required field 'version'"
    else:
        scenario = loader.load_scenario(path)
        assert scenario.spec.faults[0].type == "chaos-mesh"


@needs_upstream
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


def test_a_bad_manifest_is_located_in_the_scenario(tmp_path: Path) -> None:
    manifest = {**POD_KILL, "spec": {**POD_KILL["spec"], "mode": "most"}}  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(write(tmp_path, "raw.yaml", _scenario_with(manifest)))
    (issue,) = err.value.issues
    assert issue.field == "spec.faults[0].manifest.spec.mode"
    assert issue.line == 19
    assert issue.message.startswith("expected one of 'one', 'all', 'fixed'")
