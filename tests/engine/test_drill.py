"""The phase machine, run for real against an in-memory system with a fake clock."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.clock import FakeClock
from runner.engine import events as ev
from runner.engine.drill import AbortSignal, DrillRun, RunResult
from runner.engine.verdict import Status
from runner.journal.run import Run
from runner.scenario import model
from runner.steps.generic import GenericStepExecutor
from tests.engine.fakes import MemoryMetrics, MemoryTarget, World


def scenario(**overrides: Any) -> model.Scenario:
    spec: dict[str, Any] = {
        "clusters": [{"name": "primary"}, {"name": "secondary"}],
        "steadyState": [{"name": "up", "query": "up", "expect": ">= 1", "window": "10s"}],
        "faults": [
            {
                "name": "lose-primary",
                "type": "cluster-loss",
                "cluster": "primary",
                "duration": "10m",
            }
        ],
        "failover": {
            "steps": [
                {"name": "promote", "action": "lab.promote", "cluster": "secondary"},
                {"name": "route", "action": "lab.route", "cluster": "secondary"},
            ]
        },
        "failback": {
            "policy": "always",
            "steps": [
                {"name": "route back", "action": "lab.route", "cluster": "primary"},
            ],
        },
        "measure": {"rto": {"sli": "up", "upWhen": ">= 1", "hold": "30s"}},
        "objectives": {"rto": "5m"},
        "timeouts": {"observe": "20s", "recovery": "10m"},
    }
    spec.update(overrides)
    return model.Scenario.model_validate(
        {
            "apiVersion": "drill-runner.dev/v1alpha1",
            "kind": "Scenario",
            "metadata": {"name": "memory-failover"},
            "spec": spec,
        }
    )


DRILL = model.Drill.model_validate(
    {
        "apiVersion": "drill-runner.dev/v1alpha1",
        "kind": "Drill",
        "metadata": {"name": "mem"},
        "spec": {
            "scenarios": [{"path": "x.yaml"}],
            "targets": {
                "primary": {"lab": {"site": "east"}},
                "secondary": {"lab": {"site": "west"}},
            },
        },
    }
)


def run_drill(
    tmp_path: Path,
    world: World,
    sc: model.Scenario,
    *,
    abort: AbortSignal | None = None,
    events: list[ev.Event] | None = None,
    targets: dict[str, MemoryTarget] | None = None,
    on_event: Callable[[ev.Event], None] | None = None,
) -> RunResult:
    """Run `sc` against the memory world; the record goes to `tmp_path`."""
    targets = targets or {n: MemoryTarget(world, n) for n in ("primary", "secondary")}
    world.snapshot()
    return DrillRun(
        scenario=sc,
        scenario_path=Path("x.yaml"),
        drill=DRILL,
        drill_path=Path("d.yaml"),
        targets=targets,
        metrics=MemoryMetrics(world),
        generic_steps=GenericStepExecutor(),
        clock=world.clock,
        results_dir=tmp_path,
        run_id="mem-run-0001",
        operator="tester",
        abort=abort or AbortSignal(),
        on_event=on_event or (events.append if events is not None else lambda e: None),
    ).execute()


def phases(result: RunResult) -> list[tuple[str, str]]:
    return [(p["name"], p["status"]) for p in result.record.to_json()["phases"]]


def test_a_full_drill_passes_and_leaves_no_fault(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    events: list[ev.Event] = []
    result = run_drill(tmp_path, world, scenario(), events=events)
    assert result.status == Status.PASSED, result.reason
    assert [p for p, _ in phases(result)] == [
        "preflight",
        "steady-state",
        "inject",
        "observe",
        "failover",
        "verify",
        "recover-faults",
        "failback",
        "post-steady-state",
        "cleanup",
        "report",
    ]
    assert all(s == "succeeded" for _, s in phases(result))
    assert world.faults == {} and world.locks == {}
    rto = result.record.to_json()["measurements"]["rto"]
    # the fault starts, 20 s observe, two 1 s steps: users are back after 22 s; sampled
    # every second, the last failing sample is at 21 s and the first healthy one at 22 s
    assert (rto["lowerSeconds"], rto["upperSeconds"]) == (21.0, 22.0)
    assert rto["seconds"] == pytest.approx(21.5) and rto["uncertaintySeconds"] == 0.5
    assert world.active == "primary"
    on_disk = json.loads((tmp_path / "mem-run-0001" / "run.json").read_text())
    assert on_disk["status"] == "passed" and on_disk["faults"][0]["recoveredAt"]
    assert (tmp_path / "mem-run-0001" / "junit.xml").read_text().count("<testcase") == 2
    audit = (tmp_path / "mem-run-0001" / "events.jsonl").read_text().splitlines()
    assert {json.loads(a)["action"] for a in audit} >= {
        "fault.create",
        "fault.remove",
        "step.lab.route",
    }
    assert isinstance(events[0], ev.DrillStarted) and isinstance(events[-1], ev.DrillFinished)
    html = (tmp_path / "mem-run-0001" / "report.html").read_text()
    assert "PASSED" in html and "memory-failover" in html and "<svg" in html
    assert "PASSED" in (tmp_path / "mem-run-0001" / "report.md").read_text()
    from runner.reports.summary import render_text

    text = render_text(Run.from_json(on_disk), record_dir=str(tmp_path / "mem-run-0001"))
    assert f"report: {tmp_path}/mem-run-0001/report.html" in text


def test_a_failing_steady_state_gate_injects_nothing(tmp_path: Path) -> None:
    world = World(clock=FakeClock(), healthy_before=False)
    result = run_drill(tmp_path, world, scenario())
    assert result.status == Status.ABORTED
    assert "nothing injected" in result.reason
    assert not any(c.startswith("inject") for c in world.calls)
    assert ("failback", "succeeded") not in phases(result)
    assert world.locks == {}


def test_the_gate_waits_for_steady_state_saying_so_then_injects(tmp_path: Path) -> None:
    clock = FakeClock()
    world = World(clock=clock, steady_from=clock.now() + timedelta(seconds=12.5))
    events: list[ev.Event] = []
    sc = scenario(timeouts={"observe": "20s", "recovery": "10m", "steadyState": "1m"})
    result = run_drill(tmp_path, world, sc, events=events)
    assert result.status == Status.PASSED, result.reason
    gate = [t for t in world.gate_checks if t <= world.steady_from + timedelta(seconds=1)]
    assert gate[0] < world.steady_from <= gate[-1] <= world.steady_from + timedelta(seconds=1)
    assert all(1.0 <= (b - a).total_seconds() <= 1.5 for a, b in itertools.pairwise(gate))
    notes = [e.message for e in events if isinstance(e, ev.Notice)]
    assert notes[0] == (
        "waiting for steady state (60s left of 60s): up: 3 of 10 samples did not meet '>= 1'"
    )
    assert len(notes) == 2 and notes[1].startswith("waiting for steady state (50s left")
    assert result.record.to_json()["steadyState"]["before"]["passed"] is True
    assert any(c.startswith("inject") for c in world.calls)


@pytest.mark.parametrize("limit", ["0s", "5s"])
def test_a_gate_that_never_holds_aborts_after_its_wait_with_nothing_injected(
    tmp_path: Path, limit: str
) -> None:
    clock = FakeClock()
    world = World(clock=clock, steady_from=clock.now() + timedelta(hours=1))
    events: list[ev.Event] = []
    sc = scenario(timeouts={"observe": "20s", "recovery": "10m", "steadyState": limit})
    start = clock.monotonic()
    result = run_drill(tmp_path, world, sc, events=events)
    assert result.status == Status.ABORTED
    assert "nothing injected" in result.reason
    assert not any(c.startswith("inject") for c in world.calls)
    waited = (world.gate_checks[-1] - world.gate_checks[0]).total_seconds()
    assert waited == pytest.approx(float(limit[:-1]), abs=1.0)
    assert clock.monotonic() - start < float(limit[:-1]) + 5
    notes = [e.message for e in events if isinstance(e, ev.Notice)]
    if limit == "0s":
        assert len(world.gate_checks) == 1 and notes == []
    else:
        assert (
            notes[-1]
            == "steady state did not hold within 5s: up: 3 of 10 samples did not meet '>= 1'"
        )
    assert result.record.to_json()["steadyState"]["before"]["passed"] is False
    assert world.locks == {}


def test_an_abort_while_the_gate_waits_injects_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    world = World(clock=clock, steady_from=clock.now() + timedelta(hours=1))
    abort = AbortSignal()
    events: list[ev.Event] = []

    def on_event(e: ev.Event) -> None:
        events.append(e)
        if isinstance(e, ev.Notice) and "waiting for steady state" in e.message:
            abort.request("operator said stop")

    sc = scenario(timeouts={"observe": "20s", "recovery": "10m", "steadyState": "10m"})
    result = run_drill(tmp_path, world, sc, abort=abort, events=None, on_event=on_event)
    assert result.status == Status.ABORTED
    assert "operator said stop" in result.reason
    assert len(world.gate_checks) == 1
    assert not any(c.startswith("inject") for c in world.calls)


def test_a_missed_rto_fails_the_drill(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    result = run_drill(tmp_path, world, scenario(objectives={"rto": "10s"}))
    assert result.status == Status.FAILED
    assert "RTO" in result.reason
    assert world.faults == {}


@pytest.mark.parametrize(
    ("policy", "fails_back"),
    [("always", True), ("on-success", False), ("never", False), ("manual", False)],
)
def test_a_failed_step_stops_the_drill_and_fails_back_per_policy(
    tmp_path: Path, policy: str, fails_back: bool
) -> None:
    world = World(clock=FakeClock(), fail_steps={"route": 99})
    sc = scenario(
        failback={
            "policy": policy,
            "steps": [{"name": "route back", "action": "lab.route", "cluster": "primary"}],
        }
    )
    result = run_drill(tmp_path, world, sc)
    assert result.status == Status.ERROR
    assert "route" in result.reason
    assert world.faults == {} and world.locks == {}
    assert ("step:route back" in world.calls) is fails_back
    step = next(s for s in result.record.to_json()["steps"] if s["name"] == "route")
    assert step["status"] == "failed" and step["attempts"] == 1


def test_steps_are_retried_with_their_delay(tmp_path: Path) -> None:
    world = World(clock=FakeClock(), fail_steps={"route": 2})
    sc = scenario(
        failover={
            "steps": [
                {
                    "name": "route",
                    "action": "lab.route",
                    "cluster": "secondary",
                    "retries": 2,
                    "retryDelay": "5s",
                }
            ]
        }
    )
    result = run_drill(tmp_path, world, sc)
    assert result.status == Status.PASSED, result.reason
    step = next(s for s in result.record.to_json()["steps"] if s["name"] == "route")
    assert step["attempts"] == 3 and step["status"] == "succeeded"
    assert world.calls.count("step:route") == 3


def test_a_guardrail_breach_aborts_and_records_the_value(tmp_path: Path) -> None:
    world = World(clock=FakeClock(), guardrail_value=42.0)
    sc = scenario(guardrails=[{"name": "error rate", "query": "x", "abortWhen": "> 10"}])
    result = run_drill(tmp_path, world, sc)
    assert result.status == Status.ABORTED
    assert "error rate" in result.reason and "42" in result.reason
    assert result.record.to_json()["guardrails"][0]["value"] == 42.0
    assert world.faults == {} and world.locks == {}
    assert ("failback", "succeeded") in phases(result)  # policy always


def test_a_guardrail_breach_longer_than_the_check_interval_still_aborts(
    tmp_path: Path,
) -> None:
    """`for: 3s` with checks every second: the breach spans several checkpoints, and the
    engine confirms it as soon as it has lasted 3 s (it once only looked at the last second,
    so such a guardrail never fired)."""
    clock = FakeClock()
    breach_from = clock.now() + timedelta(seconds=6)
    world = World(clock=clock, guardrail_series=lambda t: 5.0 if t >= breach_from else 0.0)
    sc = scenario(
        guardrails=[{"name": "commit wait", "query": "x", "abortWhen": "> 1", "for": "3s"}],
        timeouts={"observe": "30s", "recovery": "1m"},
    )
    result = run_drill(tmp_path, world, sc)
    assert result.status == Status.ABORTED, result.reason
    assert "guardrail 'commit wait' breached" in result.reason
    (recorded,) = result.record.guardrails
    assert timedelta(seconds=3) <= recorded.breached_at - breach_from <= timedelta(seconds=4)
    assert world.faults == {} and world.locks == {}


def test_an_abort_mid_drill_removes_faults(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    abort = AbortSignal()

    def on_event(e: ev.Event) -> None:
        if isinstance(e, ev.PhaseStarted) and e.phase == "observe":
            abort.request("operator pressed Ctrl-C")

    targets = {n: MemoryTarget(world, n) for n in ("primary", "secondary")}
    world.snapshot()
    result = DrillRun(
        scenario=scenario(),
        scenario_path=Path("x.yaml"),
        drill=DRILL,
        drill_path=Path("d"),
        targets=targets,
        metrics=MemoryMetrics(world),
        generic_steps=GenericStepExecutor(),
        clock=world.clock,
        results_dir=tmp_path,
        run_id="mem-run-0002",
        operator="t",
        abort=abort,
        on_event=on_event,
    ).execute()
    assert result.status == Status.ABORTED and "Ctrl-C" in result.reason
    assert world.faults == {} and "remove:lose-primary" in world.calls
    assert not any(c.startswith("step:promote") for c in world.calls)


def test_a_fault_that_fails_after_creation_is_still_removed(tmp_path: Path) -> None:
    world = World(clock=FakeClock(), inject_error="never selected")
    result = run_drill(tmp_path, world, scenario())
    assert result.status == Status.ERROR and "never selected" in result.reason
    assert "remove:lose-primary" in world.calls and world.faults == {}


def test_a_held_lock_refuses_the_run(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    world.locks["secondary"] = "other-run"
    result = run_drill(tmp_path, world, scenario())
    assert result.status == Status.ERROR and "other-run" in result.reason
    assert not any(c.startswith("inject") for c in world.calls)
    assert world.locks == {"secondary": "other-run"}


def test_a_ten_minute_drill_runs_in_milliseconds(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    long_loss = {"name": "lose-primary", "type": "cluster-loss", "cluster": "primary"}
    sc = scenario(
        faults=[{**long_loss, "duration": "1h"}],  # it outlasts the ten minutes of observe
        timeouts={"observe": "10m", "recovery": "30m"},
        objectives={"rto": "15m"},
    )
    done = threading.Event()
    result = run_drill(tmp_path, world, sc)
    done.set()
    assert result.status == Status.PASSED
    rto = result.record.to_json()["measurements"]["rto"]
    assert (rto["lowerSeconds"], rto["upperSeconds"]) == (601.0, 602.0)


def test_the_plan_lists_the_phases_in_the_order_the_engine_runs_them(tmp_path: Path) -> None:
    from runner.engine.plan import ordered_steps

    world = World(clock=FakeClock())
    sc = scenario()
    result = run_drill(tmp_path, world, sc)
    planned: list[str] = []
    for phase, _ in ordered_steps(sc):
        name = phase.split(" ")[0]
        if not planned or planned[-1] != name:
            planned.append(name)
    assert planned == [p for p, _ in phases(result)]


def test_lab_preflight_refuses_what_the_lab_cannot_run() -> None:
    from runner.lab.backend import unsupported_here

    sc = scenario(
        faults=[
            {
                "name": "kill",
                "type": "pod-kill",
                "cluster": "primary",
                "duration": "1m",
                "selector": {"namespaces": ["db"]},
            },
            {"name": "lose", "type": "cluster-loss", "cluster": "primary", "duration": "1m"},
        ],
        failover={
            "steps": [
                {
                    "name": "scale",
                    "action": "scale",
                    "cluster": "primary",
                    "target": {"kind": "Deployment", "name": "x"},
                    "replicas": 1,
                },
                {"name": "route", "action": "lab.route", "cluster": "secondary"},
                {"name": "wait", "action": "sleep", "duration": "1s"},
            ]
        },
    )
    assert unsupported_here(sc, "primary") == [
        "fault 'kill': the lab cannot inject 'pod-kill' faults "
        "(it can: cluster-loss, network-partition, replication-lag)",
        "step 'scale': 'scale' is a Kubernetes step; the lab runs lab.* steps",
    ]
    assert unsupported_here(sc, "secondary") == []
