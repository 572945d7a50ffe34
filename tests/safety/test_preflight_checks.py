"""Safety 5 and 6: preflight finds, before anything is injected, a step target that does not
exist or a kind the cluster does not serve, and a Chaos Mesh controller that is clearly not
there (with an override); its notes are shown. The oracle is the server's request log: a
refused run never sent a chaos object other than as a dry run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from runner.chaosmesh.preflight import preflight
from runner.kube.client import client_from_url
from runner.scenario import loader
from tests.kube.conftest import make_run
from tests.kube.fake_controller import FakeChaosController
from tests.safety.conftest import Cluster, drillctl
from tests.safety.files import NS, SCALE_DOWN, write


def _chaos_writes(cluster: Cluster) -> list[str]:
    """Chaos objects really created (dry runs excluded)."""
    return cluster.emulator.call(
        lambda h: [
            r.url.path
            for r in h.request_log
            if r.method.value == "POST"
            and "chaos-mesh.org" in r.url.path
            and r.params.get("dryRun") != "All"
        ]
    )


def _step(**kw: Any) -> dict[str, Any]:
    return {**SCALE_DOWN, **kw}


def _preflight(cluster: Cluster, tmp_path: Path, steps: list[dict[str, Any]]) -> Any:
    scenario, _ = write(tmp_path, cluster.url, failover=steps)
    sc = loader.load_scenario(scenario)
    client = client_from_url(cluster.url, cluster="east", timeout=5)
    try:
        return preflight(
            client, cluster="east", namespace=NS, scenario=sc, peers={}, run=make_run()
        )
    finally:
        client.close()


def test_step_targets_are_resolved_before_injecting(tmp_path: Path, cluster: Cluster) -> None:
    missing_name = _step(
        name="typo", target={"kind": "Deployment", "namespace": "db", "name": "pgg"}
    )
    missing_kind = {
        "name": "promote",
        "action": "patch",
        "cluster": "east",
        "target": {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "namespace": "db",
            "name": "pg",
        },
        "patch": {"spec": {"replica": {"enabled": False}}},
    }
    made_first = {
        "name": "make it",
        "action": "apply",
        "cluster": "east",
        "manifest": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "new", "namespace": "db"},
        },
    }
    then_wait = {
        "name": "wait for it",
        "action": "wait-for",
        "cluster": "east",
        "target": {"kind": "Deployment", "namespace": "db", "name": "new"},
        "field": "spec.replicas",
        "equals": "1",
    }
    report = _preflight(
        cluster, tmp_path, [SCALE_DOWN, missing_name, missing_kind, made_first, then_wait]
    )
    assert sorted(report.missing) == sorted(
        [
            "step 'typo': Deployment db/pgg does not exist on cluster 'east'",
            "step 'promote': kind Cluster (postgresql.cnpg.io/v1) is not served by cluster "
            "'east': is its CRD installed, and is the apiVersion right?",
        ]
    ), report.missing
    scenario, drill = write(tmp_path, cluster.url, failover=[missing_name])
    done = drillctl("run", str(scenario), "--drill", str(drill), cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Deployment db/pgg does not exist" in done.stdout + done.stderr
    assert _chaos_writes(cluster) == [] and cluster.lease_holder() is None


def _run(tmp_path: Path, cluster: Cluster, **kw: Any) -> Any:
    scenario, drill = write(tmp_path, cluster.url, failover=[SCALE_DOWN], **kw)
    started = time.monotonic()
    done = drillctl("run", str(scenario), "--drill", str(drill), cwd=tmp_path)
    return done, time.monotonic() - started


def _phases(tmp_path: Path) -> list[str]:
    """The phases the one run in `tmp_path/results` went through."""
    [record] = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*/run.json")]
    return [str(p["name"]) for p in record["phases"]]


@pytest.fixture
def no_controller(cluster: Cluster) -> Cluster:
    """Deployments are served, but no chaos-controller-manager exists."""
    cluster.controller.__exit__()
    from runner.chaosmesh.preflight import CONTROLLER, CONTROLLER_NAME

    cluster.client.delete(CONTROLLER, CONTROLLER_NAME, namespace="chaos-mesh")
    return cluster


def test_an_absent_controller_refuses_fast_unless_overridden(
    tmp_path: Path, no_controller: Cluster
) -> None:
    cluster = no_controller
    done, took = _run(
        tmp_path, cluster, timeouts={"observe": "0s", "inject": "120s", "remove": "20s"}
    )
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    where = "deployment chaos-mesh/chaos-controller-manager not found"
    assert f"the Chaos Mesh controller is not running ({where})" in out
    assert "chaosMesh.requireController: false" in out
    assert took < 90, took  # the 120 s inject timeout was not waited out (loaded machine: not 30)
    assert "preflight" in _phases(tmp_path) and "inject" not in _phases(tmp_path)
    assert _chaos_writes(cluster) == []
    # the override: a note is shown, and the run proceeds (a controller is back meanwhile)
    client = client_from_url(cluster.url, cluster="emu", timeout=5)
    with FakeChaosController(client, NS, publish=False):
        done, _ = _run(
            tmp_path,
            cluster,
            chaos_mesh={"requireController": False},
        )
    client.close()
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "preflight east: the Chaos Mesh controller is not running" in out
    assert "running anyway" in out
    assert cluster.chaos_left() == []


def test_a_dead_webhook_refuses_in_preflight(tmp_path: Path, cluster: Cluster) -> None:
    cluster.emulator.call(lambda h: setattr(h, "webhook_down", True))
    done, took = _run(tmp_path, cluster)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert "not answering its admission webhook" in out and took < 90
    phases = _phases(tmp_path)  # refused before any inject phase began
    assert "preflight" in phases and "inject" not in phases, phases
    assert _chaos_writes(cluster) == []


def test_notes_are_shown_and_recorded(tmp_path: Path, cluster: Cluster) -> None:
    cluster.emulator.call(lambda h: h.denied.add(("get", "deployments")))
    scenario, drill = write(tmp_path, cluster.url)
    done = drillctl("run", str(scenario), "--drill", str(drill), "-o", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    note = "cannot read deployment chaos-mesh/chaos-controller-manager"
    assert f"preflight east: {note}" in done.stderr  # the live view, on stderr with -o json
    record = json.loads(done.stdout)
    assert any(note in n for n in record["preflight"]["notes"]["east"])
