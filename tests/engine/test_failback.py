"""Failback measured by the engine: the failback RTO and RPO with the failover rules from
the start of failback, split-brain writes, the rejoin, their verdicts and exit codes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from runner.clock import FakeClock
from runner.engine.verdict import EXIT_CODES, Status
from tests.engine.fakes import World
from tests.engine.test_drill import run_drill, scenario

REJOINED = json.dumps({"rejoin": {"mode": "rewound", "timelineBefore": 1, "timelineAfter": 2}})


def failback_scenario(steps: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    return scenario(
        failback={
            "policy": extra.pop("policy", "always"),
            "steps": steps or [{"name": "route back", "action": "lab.route", "cluster": "primary"}],
            **({"expect": extra.pop("expect")} if "expect" in extra else {}),
        },
        measure={
            "rto": {"sli": "up", "upWhen": ">= 1", "hold": "30s"},
            "failback": extra.pop(
                "measure", {"splitBrain": {"acknowledged": "acks", "created": "acks_created"}}
            ),
        },
        objectives={"rto": "5m", "failback": extra.pop("objectives", {"rto": "10s"})},
    )


def test_a_clean_failback_is_measured_and_passes(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    result = run_drill(tmp_path, world, failback_scenario())
    assert result.status is Status.PASSED, result.reason
    m = result.record.to_json()["measurements"]
    assert m["failbackRto"]["status"] == "met"
    assert m["failbackRto"]["outcome"] == "never-failed"
    assert "never failed during failback" in m["failbackRto"]["explanation"]
    assert m["splitBrain"]["status"] == "met" and m["splitBrain"]["writes"] == 0
    assert "Failback RTO met" in result.reason and "Split brain met" in result.reason
    tl = result.record.to_json()["timeline"]
    assert tl["failoverStarted"] <= tl["failoverDone"] <= tl["failbackStarted"]
    assert tl["failbackStarted"] <= tl["failbackDone"] <= tl["failbackWindowEnd"]
    assert "failback" in result.record.to_json()["measurementInputs"]


def test_an_outage_during_failback_misses_the_failback_rto(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    steps = [
        {"name": "fence", "action": "lab.fence", "cluster": "secondary"},
        {"name": "slow", "action": "sleep", "duration": "20s"},
        {"name": "route back", "action": "lab.route", "cluster": "primary"},
    ]
    result = run_drill(tmp_path, world, failback_scenario(steps))
    assert result.status is Status.FAILED and EXIT_CODES[result.status] == 1
    rto = result.record.to_json()["measurements"]["failbackRto"]
    assert rto["status"] == "missed" and rto["lowerSeconds"] > 10
    assert result.reason.startswith("Failback RTO:")
    assert result.record.to_json()["measurements"]["rto"]["status"] == "met"


def test_split_brain_writes_fail_the_drill(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    start = world.clock.now()
    # the old primary acknowledged three writes after failover began (at about 21 s)
    world.old_primary_acks = [start + timedelta(seconds=s) for s in (5, 30, 31, 32)]
    result = run_drill(tmp_path, world, failback_scenario())
    sb = result.record.to_json()["measurements"]["splitBrain"]
    assert (sb["status"], sb["lowerWrites"], sb["upperWrites"]) == ("missed", 3, 3)
    phases = {p["phase"]: (p["lower"], p["upper"]) for p in sb["details"]["phases"]}
    assert sum(lo for lo, _ in phases.values()) == 3
    assert result.status is Status.FAILED and "Split brain" in result.reason


def test_a_rebuild_fails_without_rebuild_and_a_rewind_passes(tmp_path: Path) -> None:
    steps = [
        {"name": "rejoin", "action": "lab.rejoin", "cluster": "primary"},
        {"name": "route back", "action": "lab.route", "cluster": "primary"},
    ]
    sc = failback_scenario(steps, expect={"rejoin": "without-rebuild"})
    world = World(clock=FakeClock(), step_outputs={"rejoin": REJOINED})
    ok = run_drill(tmp_path / "ok", world, sc)
    assert ok.status is Status.PASSED, ok.reason
    assert ok.record.to_json()["measurements"]["rejoin"]["details"]["mode"] == "rewound"
    rebuilt = World(
        clock=FakeClock(),
        step_outputs={"rejoin": json.dumps({"rejoin": {"mode": "recloned", "bytesCopied": 9}})},
    )
    bad = run_drill(tmp_path / "bad", rebuilt, sc)
    assert bad.status is Status.FAILED
    assert "Rejoin:" in bad.reason and "a rebuild was needed" in bad.reason
    silent = run_drill(tmp_path / "silent", World(clock=FakeClock()), sc)
    assert silent.status is Status.INCONCLUSIVE and EXIT_CODES[silent.status] == 3
    assert "no failback step reported how the old primary rejoined" in silent.reason


def test_failback_objectives_without_a_failback_are_inconclusive(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    result = run_drill(tmp_path, world, failback_scenario(policy="manual"))
    assert result.status is Status.INCONCLUSIVE, result.reason
    m = result.record.to_json()["measurements"]
    assert m["failbackRto"]["status"] == "inconclusive"
    assert "failback did not run" in m["failbackRto"]["explanation"]
