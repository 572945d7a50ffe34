"""The lab through the engine's seam: faults, steps, lock and ground truth on real processes.

Tests share one lab (module scope) and each leaves it healthy: east primary with
traffic, west a streaming standby, no faults.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.backends import InjectedFault
from runner.errors import LockHeldError
from runner.lab import postgres
from runner.lab.backend import LabBackend, lab_prometheus_url
from runner.lab.client import LabClient
from runner.lab.ground_truth import read_jsonl
from runner.scenario import model
from runner.scenario.loader import load_scenario
from tests.lab.conftest import healthy, make_run, wait_for

pytestmark = pytest.mark.lab


def post(url: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def loss(effect: str = "crash") -> model.ClusterLossFault:
    return model.ClusterLossFault(
        name="lose-primary",
        cluster="primary",
        type="cluster-loss",
        effect=effect,
        duration=timedelta(seconds=60),
    )


def step(action: str, cluster: str) -> Any:
    return {
        "lab.promote": model.LabPromoteStep,
        "lab.route": model.LabRouteStep,
        "lab.rejoin": model.LabRejoinStep,
        "lab.switchover": model.LabSwitchoverStep,
    }[action](
        name=f"{action}-{cluster}", action=action, cluster=cluster, timeout=timedelta(seconds=60)
    )


def inject(backend: LabBackend, fault: Any, run_id: str) -> InjectedFault:
    created: list[InjectedFault] = []
    [handle] = backend.faults.inject(fault, make_run(run_id), created.append)
    assert [c.name for c in created] == [handle.name] and handle.injected_at is not None
    return handle


def last_probes(lab_dir: Path, n: int) -> list[bool]:
    return [p["ok"] for p in list(read_jsonl(lab_dir / "probes.jsonl"))[-n:]]


# ---------------------------------------------------------------------------------------------


def test_lab_starts_healthy_and_orders_flow(lab: LabClient, lab_dir: Path) -> None:
    wait_for(lambda: healthy(lab), what="healthy lab")
    status, ack = post(f"{lab.state.router_url}/orders")
    assert status == 201 and ack["site"] == "east"
    east, west = lab.state.order_ports["east"], lab.state.order_ports["west"]
    assert get(f"http://127.0.0.1:{east}/orders/{ack['seq']}")[1]["ts"] == ack["ts"]
    wait_for(
        lambda: get(f"http://127.0.0.1:{west}/orders/{ack['seq']}")[0] == 200,
        what="row replicated to west",
    )
    assert post(f"http://127.0.0.1:{west}/orders")[0] == 503  # west is read-only
    acks = list(read_jsonl(lab_dir / "acks.jsonl"))
    assert {"site": "east", "seq": ack["seq"], "ts": ack["ts"]} in acks
    wait_for(lambda: all(last_probes(lab_dir, 10)), what="probes succeeding")


def test_prometheus_scrapes_the_lab(lab: LabClient, lab_dir: Path) -> None:
    url = lab_prometheus_url(lab_dir)

    def query(q: str) -> list[Any]:
        with urllib.request.urlopen(f"{url}/api/v1/query?query={q}", timeout=5) as r:
            result: list[Any] = json.loads(r.read())["data"]["result"]
            return result

    wait_for(lambda: bool(query("lab_probe_success")), what="lab_probe_success scraped")
    wait_for(lambda: len(query("lab_db_up")) == 2, what="lab_db_up scraped")
    wait_for(lambda: bool(query("lab_orders_total")), what="order service scraped")
    # a probe can time out on a starved machine; the lab must reach healthy probes
    wait_for(
        lambda: float(query("lab_probe_success")[0]["value"][1]) > 0.5,
        what="successful probes scraped",
    )


def test_lock_refuses_second_holder_and_takes_stale(primary: LabBackend) -> None:
    first, second = make_run("run-a"), make_run("run-b")
    primary.lock.acquire(first)
    with pytest.raises(LockHeldError, match="run-a"):
        primary.lock.acquire(second)
    primary.lock.renew(first)
    primary.lock.release(first)
    primary.lock.acquire(second)
    primary.lock.release(second)
    # a lock whose process is dead is stale and can be taken
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    path = primary.site_lock.path
    path.write_text(json.dumps({"runId": "ghost", "pid": int(dead), "since": "then"}))
    primary.lock.acquire(first)
    assert json.loads(path.read_text())["runId"] == "run-a"
    primary.lock.release(first)


def test_crash_fault_kills_site_and_removal_restores(
    lab: LabClient, primary: LabBackend, lab_dir: Path
) -> None:
    run = make_run("crash")
    plan = primary.faults.plan(loss(), run)
    assert plan[0].kind == "lab/cluster-loss" and plan[0].name == "crash-lose-primary"
    before = lab.status()["sites"]["east"]
    handle = inject(primary, loss(), "crash")
    assert handle.kind == "lab/cluster-loss"
    after = lab.status()["sites"]["east"]
    assert not after["db"]["running"] and not after["orders"]["running"]
    assert not Path(f"/proc/{before['db']['pid']}").exists()
    assert [lo.name for lo in primary.faults.sweep(run_id="crash", older_than_seconds=None)] == [
        "crash-lose-primary"
    ]
    wait_for(lambda: not any(last_probes(lab_dir, 5)), what="probes failing")
    primary.faults.remove(handle, run)
    primary.faults.remove(handle, run)  # idempotent
    wait_for(lambda: healthy(lab), what="healthy after crash removal")
    wait_for(lambda: all(last_probes(lab_dir, 5)), what="probes succeeding")


def test_hang_fault_freezes_site_and_removal_resumes(
    lab: LabClient, primary: LabBackend, lab_dir: Path
) -> None:
    handle = inject(primary, loss("hang"), "hang")
    east = lab.status()["sites"]["east"]
    assert east["db"]["frozen"] and east["role"] == "frozen"
    state = Path(f"/proc/{east['db']['pid']}/stat").read_text().rsplit(")", 1)[1].split()[0]
    assert state == "T"
    wait_for(lambda: not any(last_probes(lab_dir, 5)), what="probes failing")
    primary.faults.remove(handle, make_run("hang"))
    wait_for(lambda: healthy(lab), what="healthy after thaw")
    wait_for(lambda: all(last_probes(lab_dir, 5)), what="probes succeeding")


def test_partition_cuts_replication_until_removed(lab: LabClient, primary: LabBackend) -> None:
    fault = model.NetworkPartitionFault(
        name="split",
        cluster="primary",
        type="network-partition",
        peer="secondary",
        duration=timedelta(seconds=30),
    )
    handle = inject(primary, fault, "part")
    status = lab.status()
    assert all(p["severed"] and p["connections"] == 0 for p in status["proxies"].values())
    wait_for(lambda: lab.status()["sites"]["west"]["lag"]["seconds"] > 1, what="lag growing")
    assert status["activeSite"] == "east"
    primary.faults.remove(handle, make_run("part"))
    wait_for(lambda: healthy(lab), what="streaming again after partition")


def test_replication_lag_shows_lag_then_recovers(lab: LabClient, secondary: LabBackend) -> None:
    fault = model.ReplicationLagFault(
        name="slow",
        cluster="secondary",
        type="replication-lag",
        peer="primary",
        duration=timedelta(seconds=30),
        delay=model.DelaySpec(latency=timedelta(seconds=2)),
    )
    handle = inject(secondary, fault, "lag")
    assert lab.status()["proxies"]["repl-to-east"]["latency"] == 2.0
    wait_for(lambda: lab.status()["sites"]["west"]["lag"]["seconds"] > 1, what="lag > 1s")
    assert lab.status()["sites"]["west"]["lag"]["bytes"] > 0
    secondary.faults.remove(handle, make_run("lag"))
    wait_for(lambda: healthy(lab), timeout=10, what="lag back to 0")


def segment(lsn: str) -> int:
    """The 16 MB WAL segment an LSN ('X/Y', hexadecimal) falls in."""
    high, low = lsn.split("/")
    return ((int(high, 16) << 32) + int(low, 16)) // (16 * 2**20)


def test_failover_and_failback_through_steps(
    lab: LabClient, primary: LabBackend, secondary: LabBackend, lab_dir: Path
) -> None:
    handle = inject(primary, loss(), "failover")
    run = make_run("failover")
    west = lab.state.db_ports["west"]
    [(replayed,)] = postgres.query(west, "SELECT pg_last_wal_replay_lsn()::text")
    secondary.steps.execute(step("lab.promote", "secondary"), run)
    [(current,)] = postgres.query(west, "SELECT pg_current_wal_lsn()::text")
    assert segment(current) > segment(replayed), (replayed, current)  # a new WAL segment
    secondary.steps.execute(step("lab.route", "secondary"), run)
    status, ack = post(f"{lab.state.router_url}/orders")
    assert status == 201 and ack["site"] == "west"
    assert lab.status()["sites"]["west"]["role"] == "primary"
    primary.faults.remove(handle, run)  # east comes back as a (diverged) primary without traffic
    assert lab.status()["activeSite"] == "west"
    result = primary.steps.execute(step("lab.rejoin", "primary"), run)
    assert "rejoined" in result.output
    assert lab.status()["sites"]["east"]["role"] == "standby"
    rejoin = json.loads((lab_dir / "rejoins.jsonl").read_text().splitlines()[-1])
    # pg_rewind copies the source's whole pg_wal: what the lab retains (wal_keep_size 32MB,
    # min_wal_size 32MB, a new segment per promotion) bounds a rejoin, however many drills
    # came before
    assert rejoin["mode"] == "rewound" and 0 < rejoin["bytesCopied"] < 160 * 2**20, rejoin
    east_port = lab.state.order_ports["east"]
    wait_for(
        lambda: get(f"http://127.0.0.1:{east_port}/orders/{ack['seq']}")[0] == 200,
        what="west's write on rejoined east",
    )
    primary.steps.execute(step("lab.switchover", "primary"), run)
    primary.steps.execute(step("lab.route", "primary"), run)
    wait_for(lambda: healthy(lab), what="east primary, west streaming")
    assert json.loads((lab_dir / "lab.json").read_text())["active_site"] == "east"
    assert not primary.steps.supports("scale") and primary.steps.supports("lab.rejoin")


def test_lost_writes_after_lag_and_crash_equal_acked_minus_present(
    lab: LabClient, primary: LabBackend, secondary: LabBackend, lab_dir: Path
) -> None:
    lag = model.ReplicationLagFault(
        name="slow",
        cluster="secondary",
        type="replication-lag",
        peer="primary",
        duration=timedelta(seconds=30),
        delay=model.DelaySpec(latency=timedelta(seconds=3)),
    )
    lag_handle = inject(secondary, lag, "rpo")
    wait_for(lambda: lab.status()["sites"]["west"]["lag"]["seconds"] > 2, what="lag > 2s")
    crash = inject(primary, loss(), "rpo")
    assert crash.injected_at is not None
    run = make_run("rpo")
    secondary.steps.execute(step("lab.promote", "secondary"), run)
    secondary.steps.execute(step("lab.route", "secondary"), run)
    wait_for(lambda: all(last_probes(lab_dir, 60)), timeout=30, what="6s of successful probes")
    until = run.clock.now()
    observed = primary.observed(fault_start=crash.injected_at, hold_seconds=5, until=until)
    assert observed is not None

    start = crash.injected_at.timestamp()
    acked = {
        (a["site"], a["seq"], a["ts"])
        for a in read_jsonl(lab_dir / "acks.jsonl")
        if start - 60 <= a["ts"] <= until.timestamp()
    }
    rows = postgres.query(
        lab.state.db_ports["west"], "SELECT origin, seq, extract(epoch FROM created_at) FROM orders"
    )
    present = {(o, int(s)): float(t) for o, s, t in rows}
    missing = [a for a in acked if abs(present.get((a[0], a[1]), -1) - a[2]) > 0.001]
    assert observed["lostWrites"] == len(missing) > 5  # ~3s of writes at 10/s, minus promotion
    assert 1.0 < observed["lostWindowSeconds"] < 5.0
    assert observed["rtoSeconds"] is not None and 0 < observed["rtoSeconds"] < 10
    assert observed["failedProbes"] > 0 and observed["probes"] > observed["failedProbes"]

    primary.faults.remove(crash, run)
    secondary.faults.remove(lag_handle, run)
    primary.steps.execute(step("lab.rejoin", "primary"), run)
    primary.steps.execute(step("lab.switchover", "primary"), run)
    primary.steps.execute(step("lab.route", "primary"), run)
    wait_for(lambda: healthy(lab), what="healthy after the RPO drill")


def test_preflight_reports_a_crashed_site(primary: LabBackend, secondary: LabBackend) -> None:
    scenario = load_scenario(Path(__file__).parents[2] / "scenarios/lab/region-failover.yaml")
    assert primary.preflight(scenario, make_run("pf")).missing == ()
    handle = inject(primary, loss(), "pf")
    try:
        missing = primary.preflight(scenario, make_run("pf")).missing
        assert any("down" in m for m in missing)
        assert secondary.preflight(scenario, make_run("pf")).missing == ()
    finally:
        primary.faults.remove(handle, make_run("pf"))


def test_faults_expire_by_themselves(lab: LabClient) -> None:
    """A runner that died never leaves a fault forever: it expires after duration + margin."""
    lab.apply_fault(
        {
            "run_id": "dead-runner",
            "fault": "split",
            "type": "network-partition",
            "site": "east",
            "duration": 0.5,
            "margin": 0.5,
        }
    )
    assert lab.status()["proxies"]["repl-to-east"]["severed"]
    wait_for(lambda: not lab.faults(), timeout=5, what="fault expired")
    wait_for(lambda: healthy(lab), what="streaming again after expiry")
