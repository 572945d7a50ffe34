"""Synchronous replication in the lab (topology `sync`), end to end through `drillctl`:
losing the primary loses no acknowledged write (RPO = 0 from the canary, and exactly 0
in the ground truth), the latency that costs is measured in the same run, and losing the
synchronous standby stalls writes until a guardrail stops the drill, never silently."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from runner.breakdown import LatencyComparison
from runner.lab.client import LabClient
from runner.lab.state import LabState
from tests.infra.lab import Lab, start_lab, wait_for

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def sync_lab() -> Iterator[Lab]:
    yield from start_lab("sync", "lab-sync.yaml")


def synchronous_again(lab: Lab) -> bool:
    sites = lab.status()["sites"]
    return (
        sites["east"]["role"] == "primary"
        and sites["west"]["role"] == "standby"
        and sites["west"]["streaming"]
        and lab.prometheus('lab_db_sync_standbys{site="east"}') == 1
    )


def test_region_loss_with_synchronous_replication_loses_nothing(sync_lab: Lab) -> None:
    code, run, log = sync_lab.run_drill("sync-region-failover.yaml")
    assert run["status"] == "passed", run["reason"] + "\n" + log
    assert code == 0
    rto, rpo, observed = run["measurements"]["rto"], run["measurements"]["rpo"], run["observed"]
    # RPO = 0 proven: the canary found no acknowledged write missing on the new primary, and
    # the lab's own comparison of every acknowledged write with the rows there agrees exactly
    assert rpo["status"] == "met" and rpo["objectiveSeconds"] == 0
    assert rpo["lowerSeconds"] == rpo["upperSeconds"] == 0
    assert rpo["details"]["canary"]["lostWrites"] == 0 == observed["lostWrites"]
    assert observed["acknowledgedWrites"] > 50  # writes really flowed through the loss
    assert rto["status"] == "met"
    assert rto["lowerSeconds"] - 0.05 <= observed["rtoSeconds"] <= rto["upperSeconds"] + 0.05
    # the latency penalty, from the same run: every synchronous commit waited at least the
    # 5 ms the replication link takes one way; asynchronous commits did not
    latency = LatencyComparison.from_json(observed["writeLatency"])
    assert latency.sync is not None and latency.async_ is not None
    assert latency.sync.count > 100 and latency.async_.count > 50
    assert latency.sync.p50 >= 0.005
    assert latency.penalty_p50 is not None and latency.penalty_p50 > 0
    wait_for(lambda: synchronous_again(sync_lab), 30, "east primary with a synchronous standby")


def test_a_lost_synchronous_standby_stalls_writes_until_the_guardrail_stops_the_drill(
    sync_lab: Lab,
) -> None:
    run, breach = aborted_by(sync_lab, "sync-standby-loss.yaml", "writes-not-stalled")
    assert breach["value"] > 1
    wait_for(lambda: synchronous_again(sync_lab), 30, "the standby back and synchronous")
    # stalled, never silently unprotected: every write acknowledged during the run is on the
    # standby once writes resume
    assert_every_ack_on_the_standby(sync_lab, run)


def test_a_slow_synchronous_standby_slows_writes_until_the_latency_guardrail_stops_the_drill(
    sync_lab: Lab,
) -> None:
    wait_for(lambda: synchronous_again(sync_lab), 30, "a synchronous standby")
    run, breach = aborted_by(sync_lab, "sync-standby-slow.yaml", "commit-latency")
    assert breach["value"] > 0.5
    # the truth of the slowdown, from the order service's own commit log: once the link was
    # slow, every synchronous commit on east waited at least the 1.5 s it added
    (fault,) = run["faults"]
    injected = datetime.fromisoformat(fault["injectedAt"]).timestamp()
    breached = datetime.fromisoformat(breach["breachedAt"]).timestamp()
    lines = (sync_lab.state_dir / "commits.jsonl").read_text().splitlines()
    commits = [c for line in lines if (c := json.loads(line))["site"] == "east"]
    slow = [c for c in commits if c["commit"] == "sync" and injected + 2 <= c["ts"] <= breached]
    assert slow and all(c["seconds"] >= 1.4 for c in slow), slow
    # slow, never silently unprotected
    wait_for(lambda: synchronous_again(sync_lab), 30, "the link fast again")
    assert_every_ack_on_the_standby(sync_lab, run)


def aborted_by(lab: Lab, scenario: str, guardrail: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run `scenario`: it must end aborted (exit 3) by `guardrail` alone, its fault removed."""
    code, run, log = lab.run_drill(scenario)
    assert run["status"] == "aborted", run["reason"] + "\n" + log
    assert code == 3
    assert f"guardrail '{guardrail}' breached" in run["reason"]
    (breach,) = run["guardrails"]
    assert breach["name"] == guardrail
    assert all(f["recoveredAt"] for f in run["faults"])
    return run, breach


def assert_every_ack_on_the_standby(lab: Lab, run: dict[str, Any]) -> None:
    """Every write acknowledged during the run is on west, counted here from the lab's ack
    log and west's rows (matched by site, sequence and the writer's timestamp), not by the
    lab's own comparison."""
    started = datetime.fromisoformat(run["startedAt"]).timestamp()
    finished = datetime.fromisoformat(run["finishedAt"]).timestamp()

    def acks() -> list[dict[str, Any]]:
        lines = (lab.state_dir / "acks.jsonl").read_text().splitlines()
        return [a for line in lines if (a := json.loads(line))["ts"] >= started]

    # writes resume once the standby is back: wait for a second's worth after the run
    wait_for(lambda: sum(a["ts"] > finished + 1 for a in acks()) >= 5, 30, "writes resumed")
    acked = acks()
    assert acked
    state = json.loads((lab.state_dir / "lab.json").read_text())
    with psycopg.connect(
        host=state["addresses"]["west"], port=state["db_ports"]["west"], user="postgres"
    ) as conn:
        rows = conn.execute(
            "SELECT origin, seq, extract(epoch FROM created_at) FROM orders"
            " WHERE created_at >= to_timestamp(%s)",
            (started - 1,),
        ).fetchall()
    present = {(o, int(s)): float(t) for o, s, t in rows}
    missing = [a for a in acked if abs(present.get((a["site"], a["seq"]), -1.0) - a["ts"]) > 0.001]
    assert missing == []


def test_a_commit_the_standby_never_confirmed_is_not_acknowledged(sync_lab: Lab) -> None:
    """PostgreSQL commits locally when a synchronous wait is cancelled and only warns: the
    order service must answer 503 for it, never acknowledge it."""
    wait_for(lambda: synchronous_again(sync_lab), 30, "a synchronous standby")
    state = LabState.from_json(json.loads((sync_lab.state_dir / "lab.json").read_text()))
    client = LabClient(state)
    client.apply_fault(
        {"run_id": "t", "fault": "gone", "type": "cluster-loss", "site": "west", "duration": 90}
    )
    try:
        url = f"http://{state.address('east')}:{state.order_ports['east']}/orders"
        started = time.monotonic()
        request = urllib.request.Request(url, data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            # the service writes one at a time: under load this write may queue behind the
            # prober's, each of which also waits its 5 s, so only the wait's floor is exact
            urllib.request.urlopen(request, timeout=75)
        waited = time.monotonic() - started
        assert e.value.code == 503
        # the answer only the cancelled synchronous wait gives: it waited, then gave up
        assert "not confirmed by the synchronous standby" in e.value.read().decode()
        assert waited >= 4.5  # it waited for the standby (5 s) before giving up
    finally:
        client.remove_fault("t-gone")
    wait_for(lambda: synchronous_again(sync_lab), 30, "the standby back")
