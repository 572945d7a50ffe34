"""`drillctl cleanup` and `drillctl plan --server-dry-run` against two real API servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from runner import backends
from runner.chaosmesh.compile import Stamp, compile_fault
from runner.chaosmesh.lease import LEASE_NAME
from runner.chaosmesh.provider import SWEEP_KINDS
from runner.cli.main import cli
from runner.kube.resources import LEASES, chaos_resource
from tests.envtest.conftest import CLUSTERS, Envtest
from tests.envtest.helpers import fault, scenario
from tests.kube.fake_controller import FakeChaosController

pytestmark = pytest.mark.envtest

MANAGED = f"{backends.LABEL_MANAGED_BY}={backends.MANAGED_BY}"
FAULTS = [
    {
        "name": "east-down",
        "type": "cluster-loss",
        "cluster": "east",
        "duration": "5m",
        "namespaces": ["db"],
        "isolateNetwork": True,
    },
    {
        "name": "west-cut",
        "type": "network-partition",
        "cluster": "west",
        "duration": "2m",
        "peer": "east",
        "selector": {"namespaces": ["db"], "labels": {"app": "pg"}},
    },
]


def write_drill(
    envtest: Envtest, tmp_path: Path, ns: str, faults: list[dict[str, Any]]
) -> tuple[Path, Path]:
    """A scenario and a drill whose two targets are the two API servers (admin contexts)."""
    targets = {
        name: {
            "kubernetes": {
                "kubeconfig": str(envtest.kubeconfig),
                "context": f"{name}-admin",
                "namespace": ns,
            },
            "addresses": [f"10.{i}.0.0/16"],
        }
        for i, name in enumerate(CLUSTERS, 1)
    }
    drill = {
        "apiVersion": "drill-runner.dev/v1alpha1",
        "kind": "Drill",
        "metadata": {"name": "nightly"},
        "spec": {"scenarios": [{"path": "scenario.yaml"}], "targets": targets},
    }
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(scenario(*faults)))
    (tmp_path / "drill.yaml").write_text(yaml.safe_dump(drill))
    return tmp_path / "scenario.yaml", tmp_path / "drill.yaml"


def managed_objects(envtest: Envtest) -> list[tuple[str, str, str, str]]:
    """(cluster, kind, namespace, name) of every chaos object labelled by drill-runner."""
    out = []
    for cluster, admin in envtest.admins.items():
        for kind in SWEEP_KINDS:
            for item in admin.list(chaos_resource(kind), label_selector=MANAGED)["items"]:
                meta = item["metadata"]
                out.append((cluster, kind, meta["namespace"], meta["name"]))
    return sorted(out)


def test_cleanup_after_a_sigkilled_runner_leaves_no_fault_in_either_cluster(
    envtest: Envtest, ns: str, tmp_path: Path, controllers: dict[str, FakeChaosController]
) -> None:
    scenario_path, drill_path = write_drill(envtest, tmp_path, ns, FAULTS)
    assert [o for o in managed_objects(envtest) if o[2] == ns] == []
    child = textwrap.dedent(f"""
        import threading, time
        from pathlib import Path
        from runner.backends import RunContext
        from runner.chaosmesh.backend import open_kubernetes_target
        from runner.clock import SystemClock
        from runner.scenario import loader
        d = loader.load_drill({str(drill_path)!r}); s = loader.load_scenario({str(scenario_path)!r})
        run = RunContext(run_id="doomed", scenario=s.name, drill=d.name, operator="ci",
                         clock=SystemClock(), cancel=threading.Event(), log=lambda a, x: None)
        targets = {{name: open_kubernetes_target(name, t, drill_dir=Path({str(tmp_path)!r}),
                                                 peers=d.spec.targets)
                   for name, t in d.spec.targets.items()}}
        for b in targets.values():
            b.lock.acquire(run)
        for f in s.spec.faults:
            targets[f.cluster].faults.inject(
                f, run, lambda h: print("created", h.cluster, h.kind, h.name, flush=True))
        print("ready", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        created = []
        assert proc.stdout is not None
        while (line := proc.stdout.readline()) and not line.startswith("ready"):
            created.append(tuple(line.split()[1:]))
        assert line.startswith("ready"), created  # injected and confirmed, then blocked
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert sorted(created) == [
        ("east", "NetworkChaos", "doomed-east-down-net"),
        ("east", "PodChaos", "doomed-east-down"),
        ("west", "NetworkChaos", "doomed-west-cut"),
    ]
    mine = [o for o in managed_objects(envtest) if o[2] == ns]
    assert sorted((c, k, n) for c, k, _, n in mine) == sorted(created)
    for cluster, kind, name in created:  # Chaos Mesh would end them by itself: duration is set
        obj = envtest.admins[cluster].get(chaos_resource(kind), name, namespace=ns)
        assert obj["spec"]["duration"] and obj["metadata"]["finalizers"] == ["chaos-mesh/records"]

    result = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill_path)])
    assert result.exit_code == 0, result.output
    assert result.output.count("removed east:") == 2 and result.output.count("removed west:") == 1
    assert "(run doomed)" in result.output and result.output.rstrip().endswith("nothing left")
    assert [o for o in managed_objects(envtest) if o[2] == ns] == []
    # Without a record of the run, its fresh Lease proves nothing either way: cleanup says so
    # and leaves it (it expires after 60 s unrenewed); a record would prove it dead.
    for admin in envtest.admins.values():
        lease = admin.get(LEASES, LEASE_NAME, namespace=ns)
        assert lease["spec"]["holderIdentity"] == "doomed"
    assert "unknown  doomed (its lock on east, west is still within its lease" in result.output
    again = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill_path)])
    assert again.exit_code == 0 and again.output.strip().endswith("nothing to clean up")


def test_cleanup_sweeps_by_labels_across_both_api_servers(
    envtest: Envtest, ns: str, tmp_path: Path
) -> None:
    _, drill_path = write_drill(envtest, tmp_path, ns, FAULTS)
    pod_kill = {"type": "pod-kill", "selector": {"namespaces": ["db"]}}
    for cluster in CLUSTERS:
        for run_id in ("r1", "r2"):
            stamp = Stamp(run_id=run_id, scenario="s", drill="nightly", operator="ci")
            [o] = compile_fault(fault(**pod_kill), namespace=ns, peers={}, stamp=stamp)
            envtest.admins[cluster].create(chaos_resource(o.kind), o.manifest, namespace=ns)
        foreign = {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "PodChaos",
            "metadata": {"name": "not-ours", "labels": {backends.LABEL_RUN_ID: "r1"}},
            "spec": {"action": "pod-kill", "mode": "one", "selector": {"namespaces": ["db"]}},
        }
        envtest.admins[cluster].create(chaos_resource("PodChaos"), foreign, namespace=ns)

    def names(cluster: str) -> list[str]:
        items = envtest.admins[cluster].list(chaos_resource("PodChaos"), namespace=ns)["items"]
        return sorted(i["metadata"]["name"] for i in items)

    args = ["cleanup", "--drill", str(drill_path), "-o", "json"]
    result = CliRunner().invoke(cli, [*args, "--older-than", "1h"])
    assert result.exit_code == 0 and json.loads(result.output)["removed"] == []
    result = CliRunner().invoke(cli, [*args, "--run", "r1"])
    assert result.exit_code == 0, result.output
    removed = json.loads(result.output)["removed"]
    assert sorted((r["cluster"], r["name"], r["runId"]) for r in removed) == [
        ("east", "r1-f1", "r1"),
        ("west", "r1-f1", "r1"),
    ]
    assert names("east") == names("west") == ["not-ours", "r2-f1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert {(r["cluster"], r["name"]) for r in json.loads(result.output)["removed"]} == {
        ("east", "r2-f1"),
        ("west", "r2-f1"),
    }
    assert names("east") == names("west") == ["not-ours"]  # not labelled managed-by: untouched


def test_plan_server_dry_run_reports_field_level_causes(
    envtest: Envtest, ns: str, tmp_path: Path
) -> None:
    """The server judges what the local schema check cannot: here metadata label syntax."""
    raw = {
        "name": "stress",
        "type": "chaos-mesh",
        "cluster": "east",
        "duration": "1m",
        "manifest": {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "StressChaos",
            "metadata": {"name": "x", "labels": {"team": "db team!"}},
            "spec": {
                "mode": "one",
                "selector": {"namespaces": ["db"]},
                "stressors": {"cpu": {"workers": 1}},
            },
        },
    }
    scenario_path, drill_path = write_drill(envtest, tmp_path, ns, [*FAULTS, raw])
    args = ["plan", str(scenario_path), "--drill", str(drill_path), "--server-dry-run"]
    result = CliRunner().invoke(cli, [*args, "-o", "json"])
    assert result.exit_code == 2, result.output
    data = json.loads(result.output)
    east = {r["name"]: r["server"] for r in data["clusters"]["east"]["objects"]}
    west = {r["name"]: r["server"] for r in data["clusters"]["west"]["objects"]}
    assert east["plan-east-down"] == east["plan-east-down-net"] == {"accepted": True}
    assert west == {"plan-west-cut": {"accepted": True}}
    rejected = east["plan-stress"]
    assert not rejected["accepted"]
    assert rejected["error"].startswith(
        f"cluster 'east': create stresschaos.chaos-mesh.org 'plan-stress' in namespace {ns!r}: "
        "rejected (Invalid): "
    )
    assert rejected["causes"] == [
        'metadata.labels: Invalid value: "db team!": a valid label must be an empty string or '
        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
        "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    ]
    assert [o for o in managed_objects(envtest) if o[2] == ns] == []  # dry-run stored nothing
    text = CliRunner().invoke(cli, args).output
    assert "# fault stress: StressChaos plan-stress [server: REJECTED]" in text
    assert '#   - metadata.labels: Invalid value: "db team!"' in text
    assert "# fault west-cut: NetworkChaos plan-west-cut [server: accepted]" in text
    for cp in envtest.planes.values():
        assert cp.admin_token not in text
