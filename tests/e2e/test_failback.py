"""Failback verified in the local lab, measured against the lab's own ground truth:
split brain without fencing (found, lost on rejoin, the drill fails), with fencing (none,
the drill passes), and a failback that needs a re-clone and leaves users without service
(fails `without-rebuild` and the failback RTO). The clean round trip is checked in
test_lab_drills.py (region-failover)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.e2e.test_lab_drills import assert_healthy_topology
from tests.infra.lab import Lab

pytestmark = pytest.mark.lab
SLACK = 0.05
"""Seconds: a sample is stamped when its scrape starts, the gauge computed just after."""


def phases(continuity: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {p["phase"]: p for p in continuity["phases"]}


def assert_failback_rto_matches_the_prober(run: dict[str, Any]) -> None:
    rto = run["measurements"]["failbackRto"]
    seen = run["observed"]["failback"]["rtoSeconds"]
    assert seen is not None
    upper = rto["upperSeconds"] if rto["upperSeconds"] is not None else float("inf")
    assert rto["lowerSeconds"] - SLACK <= seen <= upper + SLACK, (rto, seen)


def test_partition_without_fencing_shows_the_split_brain_and_its_loss(lab: Lab) -> None:
    code, run, log = lab.run_drill("partition-split-brain.yaml")
    assert run["status"] == "failed", run["reason"] + "\n" + log
    assert code == 1
    sb = run["measurements"]["splitBrain"]
    assert sb["status"] == "missed" and "Split brain:" in run["reason"]
    truth = run["observed"]["failback"]["continuity"]
    # every split-brain write east acknowledged is inside the measured bounds ...
    assert truth["splitBrainWrites"] > 0
    assert sb["lowerWrites"] <= truth["splitBrainWrites"] <= sb["upperWrites"]
    # ... and pg_rewind threw every one of them away when east rejoined
    assert truth["splitBrainLost"] == truth["splitBrainWrites"]
    assert all(w["lost"] for w in truth["splitBrain"])
    # the writes east took while cut off are lost, each listed with its phase
    lost = phases(truth)
    assert lost["fault"]["lost"] == lost["fault"]["acknowledged"] > 0
    assert lost["after-failback"]["lost"] == 0
    assert truth["lostWrites"] == sum(p["lost"] for p in truth["phases"])
    # measured at failover: what east acknowledged that west lacks, = the lab's truth then
    assert (
        run["measurements"]["rpo"]["details"]["canary"]["lostWrites"]
        == (run["observed"]["lostWrites"])
    )
    # what west acknowledged while it served came back: failback RPO met, 0 lost
    assert run["measurements"]["failbackRpo"]["status"] == "met"
    assert lost["served-by-secondary"]["lost"] == lost["served-by-secondary"]["splitBrain"]
    assert run["measurements"]["rejoin"]["details"]["mode"] == "rewound"
    assert_failback_rto_matches_the_prober(run)
    report = (lab.results / run["runId"] / "report.html").read_text()
    assert "Data continuity" in report and "split-brain" in report.lower()
    assert lab.status()["faults"] == []
    assert_healthy_topology(lab)


def test_partition_with_fencing_has_no_split_brain_and_passes(lab: Lab) -> None:
    code, run, log = lab.run_drill("partition-fenced.yaml")
    assert run["status"] == "passed", run["reason"] + "\n" + log
    assert code == 0
    sb = run["measurements"]["splitBrain"]
    assert (sb["status"], sb["lowerWrites"], sb["upperWrites"]) == ("met", 0, 0)
    truth = run["observed"]["failback"]["continuity"]
    assert truth["splitBrainWrites"] == 0
    # fencing costs the clients on east's side their service until the partition heals
    rto = run["measurements"]["rto"]
    assert rto["lowerSeconds"] - SLACK <= run["observed"]["rtoSeconds"] <= rto["upperSeconds"]
    assert rto["lowerSeconds"] > 10
    assert_failback_rto_matches_the_prober(run)
    assert run["measurements"]["rejoin"]["details"]["mode"] == "rewound"


def test_a_failback_that_needs_a_reclone_and_leaves_users_down_fails(lab: Lab) -> None:
    """The old primary's WAL is removed before it rejoins (an over-eager cleanup), so
    pg_rewind cannot work and it must be re-cloned; and the route back waits 15 s after the
    switchover stopped west, so users are down during failback."""
    scenario = yaml.safe_load((lab.work / "scenarios" / "lab" / "region-failover.yaml").read_text())
    spec = scenario["spec"]
    scenario["metadata"]["name"] = "lab-broken-failback"
    wal = lab.state_dir / "pg" / "east" / "pg_wal"
    steps = spec["failback"]["steps"]
    steps.insert(
        0,
        {
            "name": "wal-cleanup",
            "action": "command",
            "command": ["sh", "-c", f"rm -f {wal}/0000*"],
            "timeout": "10s",
        },
    )
    steps.insert(-1, {"name": "slow-route-back", "action": "sleep", "duration": "15s"})
    spec["objectives"]["failback"]["rto"] = "10s"
    path = lab.work / "scenarios" / "lab" / "broken-failback.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    proc = lab.drillctl(
        "run", str(path), "--drill", str(lab.drill), "--results", str(lab.results), "-o", "json"
    )
    run = json.loads(proc.stdout)
    assert run["status"] == "failed", run["reason"] + "\n" + proc.stderr
    assert proc.returncode == 1
    m = run["measurements"]
    rejoin = m["rejoin"]
    assert rejoin["status"] == "missed" and rejoin["details"]["mode"] == "recloned"
    assert "a rebuild was needed" in run["reason"]
    seen = run["observed"]["failback"]["rejoin"]
    assert seen["mode"] == "recloned" and seen["bytesCopied"] > 0
    assert (rejoin["details"]["timelineBefore"], rejoin["details"]["timelineAfter"]) == (
        seen["timelineBefore"],
        seen["timelineAfter"],
    )
    rto = m["failbackRto"]
    assert rto["status"] == "missed" and rto["lowerSeconds"] > 10
    assert_failback_rto_matches_the_prober(run)
    # the failover itself was fine
    assert m["rto"]["status"] == "met"
    assert run["observed"]["failback"]["continuity"]["lostWrites"] == 0
    assert_healthy_topology(lab)
