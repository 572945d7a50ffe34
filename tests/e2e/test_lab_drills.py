"""Full drills in the local lab, through `drillctl`, checked against the lab's own ground truth."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest

from tests.infra.lab import Lab, read_run, wait_for

pytestmark = pytest.mark.lab


def assert_restored(lab: Lab) -> None:
    """No fault active, every process running, links open, east primary, west streaming."""
    status = lab.status()
    assert status["faults"] == []
    for site in ("east", "west"):
        assert status["sites"][site]["db"]["running"], site
        assert not status["sites"][site]["db"]["frozen"], site
        assert status["sites"][site]["orders"]["running"], site
    assert all(not p["severed"] and p["latency"] == 0 for p in status["proxies"].values())


def assert_healthy_topology(lab: Lab) -> None:
    status = lab.status()
    assert status["activeSite"] == "east"
    assert status["sites"]["east"]["role"] == "primary"
    assert status["sites"]["west"]["role"] == "standby"


def test_region_failover_passes_with_measurements_matching_ground_truth(lab: Lab) -> None:
    code, run, log = lab.run_drill("region-failover.yaml")
    assert run["status"] == "passed", run["reason"] + "\n" + log
    assert code == 0
    rto, rpo, observed = run["measurements"]["rto"], run["measurements"]["rpo"], run["observed"]
    assert rto["status"] == "met" and rto["outcome"] == "recovered"
    # the lab's own record of when users got service back lies inside the measured bounds
    # (50 ms: a sample is stamped when its scrape starts, the gauge computed just after)
    assert rto["lowerSeconds"] - 0.05 <= observed["rtoSeconds"] <= rto["upperSeconds"] + 0.05
    assert rpo["details"]["canary"]["lostWrites"] == observed["lostWrites"]
    assert rpo["details"]["canary"]["windowSeconds"] == pytest.approx(
        observed["lostWindowSeconds"], abs=0.01
    )
    assert [p["name"] for p in run["phases"]][-3:] == ["post-steady-state", "cleanup", "report"]
    assert all(f["recoveredAt"] for f in run["faults"])
    # the way back, measured against the lab's truth (docs/failback.md)
    m, back = run["measurements"], observed["failback"]
    for key in ("failbackRto", "failbackRpo", "splitBrain", "rejoin"):
        assert m[key]["status"] == "met", (key, m[key]["explanation"])
    fb = m["failbackRto"]
    assert fb["lowerSeconds"] - 0.05 <= back["rtoSeconds"] <= fb["upperSeconds"] + 0.05
    truth = back["continuity"]
    assert truth["lostWrites"] == 0 and truth["splitBrainWrites"] == 0
    assert m["failbackRpo"]["details"]["canary"]["lostWrites"] == 0
    assert (m["splitBrain"]["lowerWrites"], m["splitBrain"]["upperWrites"]) == (0, 0)
    served = {p["phase"]: p for p in truth["phases"]}["served-by-secondary"]
    assert served["acknowledged"] > 0 and served["lost"] == 0  # the round trip kept them
    assert m["rejoin"]["details"]["mode"] == "rewound" == back["rejoin"]["mode"]
    assert m["rejoin"]["details"]["timelineAfter"] == back["rejoin"]["timelineAfter"]
    assert_restored(lab)
    assert_healthy_topology(lab)


def test_replication_lag_breach_fails_on_rpo(lab: Lab) -> None:
    code, run, log = lab.run_drill("replication-lag-breach.yaml")
    assert run["status"] == "failed", run["reason"] + "\n" + log
    assert code == 1
    rpo, observed = run["measurements"]["rpo"], run["observed"]
    assert rpo["status"] == "missed"
    assert observed["lostWrites"] > 0
    assert rpo["details"]["canary"]["lostWrites"] == observed["lostWrites"]
    assert rpo["details"]["canary"]["windowSeconds"] == pytest.approx(
        observed["lostWindowSeconds"], abs=0.01
    )
    assert rpo["lowerSeconds"] > rpo["objectiveSeconds"]
    assert_restored(lab)
    assert_healthy_topology(lab)


def test_network_partition_runs_and_restores_the_links(lab: Lab) -> None:
    code, run, log = lab.run_drill("network-partition.yaml")
    assert run["status"] in ("passed", "failed"), run["reason"] + "\n" + log
    assert code == (0 if run["status"] == "passed" else 1)
    assert run["faults"] and all(f["recoveredAt"] for f in run["faults"])
    # the primary kept serving: the SLI never failed, and the record says so loudly
    rto = run["measurements"]["rto"]
    assert rto["outcome"] == "never-failed" and "NEVER FAILED" in rto["explanation"]
    assert run["observed"]["failedProbes"] == 0
    assert_restored(lab)


def _spawn_and_wait_injected(lab: Lab) -> tuple[Any, dict[str, Any]]:
    before = {p.name for p in lab.results.glob("*")} if lab.results.exists() else set()
    proc = lab.spawn(
        "run",
        str(_scenario("region-failover.yaml")),
        "--drill",
        str(lab.drill),
        "--results",
        str(lab.results),
    )

    def injected() -> dict[str, Any] | None:
        run = read_run(lab.results)
        if run and run["runId"] not in before and any(f.get("injectedAt") for f in run["faults"]):
            return run
        return None

    run = wait_for(injected, 60, "the fault to be injected")
    return proc, run


def _scenario(name: str) -> Any:
    from tests.infra.lab import REPO

    return REPO / "scenarios" / "lab" / name


def test_ctrl_c_aborts_and_removes_every_fault(lab: Lab) -> None:
    proc, run = _spawn_and_wait_injected(lab)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    final = read_run(lab.results)
    assert final is not None and final["runId"] == run["runId"]
    assert final["status"] == "aborted" and "SIGINT" in final["reason"]
    assert all(f["recoveredAt"] for f in final["faults"])
    assert_restored(lab)
    assert_healthy_topology(lab)  # failback policy always


def test_drillctl_abort_from_another_shell(lab: Lab) -> None:
    proc, run = _spawn_and_wait_injected(lab)
    res = lab.drillctl("abort", run["runId"], "--results", str(lab.results))
    assert res.returncode == 0, res.stderr
    assert "ended: aborted" in res.stdout
    proc.communicate(timeout=120)
    assert proc.returncode == 3
    assert_restored(lab)


def test_sigkill_mid_drill_then_status_and_cleanup_close_the_dead_run(lab: Lab) -> None:
    """#15 item 8 on the lab: a SIGKILLed run is told dead by `status`, and `cleanup` removes
    its fault, releases its site locks and marks its record `crashed`."""
    proc, run = _spawn_and_wait_injected(lab)
    proc.kill()
    proc.communicate(timeout=30)
    run_id, results = run["runId"], str(lab.results)
    assert lab.status()["faults"], "the killed run's fault should still be active"
    locks = lab.state_dir / "locks"
    held = {p.name: json.loads(p.read_text())["runId"] for p in locks.glob("*.lock")}
    assert held and set(held.values()) == {run_id}, held

    status = lab.drillctl("status", "--drill", str(lab.drill), "--results", results, "-o", "json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    [active] = [r for r in data["activeRuns"] if r["runId"] == run_id]
    assert (active["state"], active["alive"]) == ("dead", False)
    assert f"its process {run['pid']} on this host is gone" in active["reason"]
    assert data["locks"] and {lk["runId"] for lk in data["locks"].values()} == {run_id}
    assert {lk["state"] for lk in data["locks"].values()} == {"dead"}
    text = lab.drillctl("status", "--drill", str(lab.drill), "--results", results).stdout
    assert f"DEAD (its process {run['pid']}" in text and "drillctl cleanup --drill" in text

    res = lab.drillctl("cleanup", "--drill", str(lab.drill), "--results", results)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"dead run {run_id} (its process {run['pid']} on this host is gone)" in res.stdout
    assert "record marked crashed" in res.stdout
    assert lab.status()["faults"] == []  # removed by the cleanup itself, not by expiry
    assert list(locks.glob("*.lock")) == []
    record = json.loads((lab.results / run_id / "run.json").read_text())
    assert record["status"] == "crashed" and "swept up afterwards" in record["reason"]
    assert sorted(record["crash"]["locksReleased"]) == sorted(data["locks"])
    assert record["crash"]["faultsRemoved"] and record["crash"]["faultsLeft"] == []
    after = lab.drillctl("status", "--results", results, "-o", "json")
    assert [r for r in json.loads(after.stdout)["activeRuns"] if r["runId"] == run_id] == []
    time.sleep(1)
    assert_restored(lab)
    # the killed run may have failed over; put the lab back for later tests
    lab.restore()
