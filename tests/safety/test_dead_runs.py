"""Safety 8: a run that died is told from a running one, and finalised.

A real `drillctl run` is SIGKILLed mid-failover (a fault injected, the Lease held). Then
`status` must say it is dead and why, `cleanup` must remove its faults, release its Lease
at once (not 60 s later) and mark its record `crashed`, and a new run must start right away.
A run on another host is judged by its Lease alone. `cleanup` of many stuck objects is
bounded by `--timeout`, not `--timeout` per object. The oracle is the server's own state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from runner import backends
from runner.chaosmesh.lease import LEASE_NAME
from runner.clock import SystemClock
from runner.engine.dead_runs import Liveness, finalise_if_dead
from runner.engine.targets import open_targets
from runner.kube.lease import kube_time, lease_body
from runner.kube.resources import LEASES, chaos_resource
from runner.scenario import loader
from tests.safety.conftest import REPO, Cluster, drillctl
from tests.safety.files import NS, SCALE_DOWN, write

LONG = {"name": "a long failover", "action": "sleep", "duration": "5m"}


def _start_run(tmp_path: Path, scenario: Path, drill: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DRILL_OPERATOR": "ci"}
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(scenario), "--drill", str(drill), "-o", "json"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_sigkilled_run_is_dead_and_cleanup_finalises_it(tmp_path: Path, cluster: Cluster) -> None:
    scenario, drill = write(tmp_path, cluster.url, failover=[SCALE_DOWN, LONG])
    proc = _start_run(tmp_path, scenario, drill)
    try:
        _wait_for(lambda: cluster.chaos_left() and cluster.replicas() == 0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    [record_path] = (tmp_path / "results").glob("*/run.json")
    run_id = record_path.parent.name
    assert cluster.lease_holder() == run_id and cluster.chaos_left()

    status = drillctl("status", "--drill", str(drill), "-o", "json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    [run] = data["activeRuns"]
    assert (run["runId"], run["state"], run["alive"]) == (run_id, "dead", False)
    assert (
        f"process {json.loads(record_path.read_text())['pid']} on this host is gone"
        in run["reason"]
    )
    assert data["locks"]["east"]["runId"] == run_id and data["locks"]["east"]["state"] == "dead"
    text = drillctl("status", "--drill", str(drill), cwd=tmp_path).stdout
    assert "DEAD (its process" in text and f"drillctl cleanup --drill {drill}" in text

    blocked = drillctl("run", str(scenario), "--drill", str(drill), cwd=tmp_path)
    assert blocked.returncode == 3 and f"locked by run {run_id}" in blocked.stdout + blocked.stderr

    done = drillctl("cleanup", "--drill", str(drill), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"dead run {run_id} (its process" in done.stdout
    assert "1 fault(s) removed; lock released on east; record marked crashed" in done.stdout
    assert cluster.lease_holder() is None and cluster.chaos_left() == []
    record = json.loads(record_path.read_text())
    assert record["status"] == "crashed" and "swept up afterwards" in record["reason"]
    assert record["finishedAt"]

    again_dir = tmp_path / "again"
    again_dir.mkdir()
    quick, quick_drill = write(again_dir, cluster.url, failover=[SCALE_DOWN])
    again = drillctl("run", str(quick), "--drill", str(quick_drill), cwd=again_dir)
    assert again.returncode == 0, again.stdout + again.stderr  # at once, not 60 s later


def _lease_of(cluster: Cluster, run_id: str, renewed_ago: float) -> None:
    now = SystemClock().now() - timedelta(seconds=renewed_ago)
    body = lease_body(
        name=LEASE_NAME,
        namespace=NS,
        holder_identity=run_id,
        lease_seconds=60,
        acquired=kube_time(now),
        renewed=now,
        base=None,
        labels={backends.LABEL_MANAGED_BY: backends.MANAGED_BY},
    )
    cluster.client.create(LEASES, body, namespace=NS)


def _record(results: Path, run_id: str, host: str) -> Path:
    folder = results / run_id
    folder.mkdir(parents=True)
    record = {
        "runId": run_id,
        "status": "running",
        "host": host,
        "pid": 1,
        "drill": {"name": "safety-drill", "path": "drill.yaml"},
        "scenario": {"name": "safety"},
    }
    (folder / "run.json").write_text(json.dumps(record))
    return folder / "run.json"


def test_a_run_on_another_host_is_judged_by_its_lease(tmp_path: Path, cluster: Cluster) -> None:
    """What the scheduler calls when a replica becomes leader: finalise_if_dead."""
    _, drill_path = write(tmp_path, cluster.url)
    drill = loader.load_drill(drill_path)
    results = tmp_path / "results"
    fresh = _record(results, "elsewhere-fresh-0001", "another-host")
    _lease_of(cluster, "elsewhere-fresh-0001", renewed_ago=5)
    with open_targets(drill, drill_dir=tmp_path) as targets:
        alive = finalise_if_dead(
            "elsewhere-fresh-0001", results_dir=results, targets=targets, clock=SystemClock()
        )
        assert alive.judgement.liveness is Liveness.UNKNOWN and not alive.done
        assert "still within its lease" in alive.judgement.reason
        assert cluster.lease_holder() == "elsewhere-fresh-0001"
        assert json.loads(fresh.read_text())["status"] == "running"
        cluster.client.delete(LEASES, LEASE_NAME, namespace=NS)

        stale = _record(results, "elsewhere-stale-0001", "another-host")
        _lease_of(cluster, "elsewhere-stale-0001", renewed_ago=300)
        dead = finalise_if_dead(
            "elsewhere-stale-0001", results_dir=results, targets=targets, clock=SystemClock()
        )
    assert dead.judgement.liveness is Liveness.DEAD and dead.done, dead
    assert "stopped renewing its lock on east" in dead.judgement.reason
    assert dead.finalised is not None
    assert dead.finalised.unlocked == ("east",) and dead.finalised.record == "marked crashed"
    assert cluster.lease_holder() is None
    assert json.loads(stale.read_text())["status"] == "crashed"


def test_cleanup_of_stuck_objects_is_parallel_and_bounded(tmp_path: Path, cluster: Cluster) -> None:
    _, drill = write(tmp_path, cluster.url)
    # the same command with nothing to clean: the process start and sweeps, which a loaded
    # machine stretches, measured apart from the removals
    started = time.monotonic()
    empty = drillctl("cleanup", "--drill", str(drill), "--timeout", "3s", cwd=tmp_path)
    base = time.monotonic() - started
    assert empty.returncode == 0 and "nothing to clean up" in empty.stdout, empty.stdout
    cluster.controller.default = "stuck-finalizer"
    names = [f"stuck-{i}" for i in range(8)]
    for name in names:
        cluster.client.create(
            chaos_resource("PodChaos"),
            {
                "apiVersion": "chaos-mesh.org/v1alpha1",
                "kind": "PodChaos",
                "metadata": {
                    "name": name,
                    "labels": {
                        backends.LABEL_MANAGED_BY: backends.MANAGED_BY,
                        backends.LABEL_RUN_ID: "gone-0001",
                    },
                },
                "spec": {
                    "action": "pod-failure",
                    "mode": "all",
                    "selector": {"namespaces": ["db"]},
                    "duration": "1m",
                },
            },
            namespace=NS,
        )
    _wait_for(
        lambda: all(
            cluster.client.get(chaos_resource("PodChaos"), n, namespace=NS)["metadata"].get(
                "finalizers"
            )
            for n in names
        )
    )
    started = time.monotonic()
    done = drillctl("cleanup", "--drill", str(drill), "--timeout", "3s", cwd=tmp_path)
    took = time.monotonic() - started
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.count("LEFT ") == 8 and "still terminating" in done.stdout
    # one after another the removals alone would take at least 8 x 3 s = 24 s beyond `base`
    assert took - base < 12, (took, base)
