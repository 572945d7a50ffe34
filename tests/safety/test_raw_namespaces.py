"""Safety 3: a pasted Chaos Mesh fault whose pod selector names no namespaces is refused
(Chaos Mesh's webhook would fill in the namespace the object is created in, so the fault
would select pods in `chaos-drills`, not where the workload runs).

The oracle is written from Chaos Mesh's documented shapes, not from the code's schema
lookups: the kinds that select pods, NetworkChaos's `target` side, PhysicalMachineChaos's
optional selector. Every upstream example is fed through, then doctored both ways.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.chaosmesh.compile import UNSUPPORTED_RAW, ManifestError, Stamp, compile_fault
from tests.infra.upstream import EXAMPLES
from tests.kube.test_compile import PEERS, fault
from tests.safety.conftest import Cluster, drillctl
from tests.safety.files import write

POD_SELECTING = {
    "PodChaos", "NetworkChaos", "StressChaos", "IOChaos", "TimeChaos", "DNSChaos",
    "HTTPChaos", "JVMChaos", "KernelChaos", "BlockChaos",
}  # fmt: skip
STAMP = Stamp(run_id="r1", scenario="s", drill="d", operator="o")


def _selectors(manifest: dict[str, Any]) -> list[Any]:
    """Every pod selector the manifest has or Chaos Mesh would default."""
    kind, spec = manifest["kind"], manifest.get("spec") or {}
    out = []
    if kind in POD_SELECTING or (kind == "PhysicalMachineChaos" and "selector" in spec):
        out.append(spec.get("selector"))
    if kind == "NetworkChaos" and isinstance(spec.get("target"), dict):
        out.append(spec["target"].get("selector"))
    return out


def _names_namespaces(manifest: dict[str, Any]) -> bool:
    return all(isinstance(s, dict) and s.get("namespaces") for s in _selectors(manifest))


def _examples() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(EXAMPLES.glob("**/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"].endswith("Chaos") and doc["kind"] not in UNSUPPORTED_RAW:
                out.append((str(path.relative_to(EXAMPLES)), doc))
    return out


EXAMPLE_CASES = _examples()


def _compile(manifest: dict[str, Any]) -> Any:
    return compile_fault(
        fault(type="chaos-mesh", manifest=manifest, duration="1m"),
        namespace="chaos-drills",
        peers=PEERS,
        stamp=STAMP,
    )


@pytest.mark.parametrize(("name", "manifest"), EXAMPLE_CASES, ids=[n for n, _ in EXAMPLE_CASES])
def test_upstream_examples_run_only_when_they_name_namespaces(
    name: str, manifest: dict[str, Any]
) -> None:
    if _names_namespaces(manifest):
        [obj] = _compile(manifest)
        assert obj.manifest["spec"] == {
            **manifest["spec"],
            "duration": obj.manifest["spec"]["duration"],
        }
        return
    with pytest.raises(ManifestError) as err:
        _compile(manifest)
    assert "namespaces is missing or empty" in str(err.value)
    assert "'chaos-drills'" in str(err.value)  # says where it would have selected
    # the same example with its namespaces named is accepted, unchanged otherwise
    fixed = copy.deepcopy(manifest)
    for selector_parent in (fixed["spec"], fixed["spec"].get("target")):
        if isinstance(selector_parent, dict) and (
            selector_parent is fixed["spec"] or fixed["kind"] == "NetworkChaos"
        ):
            selector_parent.setdefault("selector", {})["namespaces"] = ["app"]
    if _names_namespaces(fixed):
        [obj] = _compile(fixed)
        assert obj.manifest["spec"]["selector"]["namespaces"] == ["app"]


def test_how_many_examples_are_refused() -> None:
    refused = [n for n, m in EXAMPLE_CASES if not _names_namespaces(m)]
    assert len(EXAMPLE_CASES) == 29 and len(refused) == 22, refused


@pytest.mark.parametrize(
    ("selector", "ok"),
    [
        pytest.param({"namespaces": ["db"]}, True, id="namespaces"),
        pytest.param({"namespaces": []}, False, id="empty-list"),
        pytest.param({"labelSelectors": {"app": "pg"}}, False, id="labels-only"),
        pytest.param({"pods": {"db": ["pg-0"]}}, False, id="pods-only"),
        pytest.param(None, False, id="no-selector"),
    ],
)
def test_a_network_chaos_target_side_needs_namespaces_too(selector: Any, ok: bool) -> None:
    manifest = {
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": "NetworkChaos",
        "metadata": {"name": "x"},
        "spec": {
            "action": "delay",
            "mode": "all",
            "selector": {"namespaces": ["db"]},
            "delay": {"latency": "10ms"},
            "direction": "to",
            "target": {"mode": "all", **({"selector": selector} if selector else {})},
        },
    }
    if ok:
        assert _compile(manifest)
    else:
        with pytest.raises(ManifestError, match=r"manifest\.spec\.target\.selector\.namespaces"):
            _compile(manifest)


def test_plan_and_run_refuse_before_touching_the_server(tmp_path: Path, cluster: Cluster) -> None:
    """Through the entry points, on the emulator over real HTTP: an upstream example without
    namespaces is refused by `plan` and `run` with the field named; the server sees no
    chaos object (not even a dry run) and no Lease."""
    name, manifest = next((n, m) for n, m in EXAMPLE_CASES if m["kind"] == "PodChaos")
    assert not _names_namespaces(manifest), name
    pasted = {"name": "pasted", "type": "chaos-mesh", "cluster": "east", "manifest": manifest}
    scenario_path, drill = write(tmp_path, cluster.url, faults=[{**pasted, "duration": "30s"}])
    planned = drillctl("plan", str(scenario_path), "--drill", str(drill), cwd=tmp_path)
    ran = drillctl("run", str(scenario_path), "--drill", str(drill), cwd=tmp_path)
    for done in (planned, ran):
        out = done.stdout + done.stderr
        assert done.returncode in (2, 3), out
        assert "manifest.spec.selector.namespaces is missing or empty" in out, out
        assert "Traceback" not in out
    posted = cluster.emulator.call(
        lambda h: [r.url.path for r in h.request_log if r.method.value == "POST"]
    )
    assert [p for p in posted if "chaos-mesh.org" in p or "leases" in p] == [], posted
    assert cluster.lease_holder() is None and cluster.chaos_left() == []
