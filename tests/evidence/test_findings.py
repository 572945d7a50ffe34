"""Deficiency ids: derived from the record, the same every time, one per problem."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from runner.evidence import exercise
from runner.journal.entries import (
    FaultEntry,
    GuardrailBreach,
    Measurements,
    SteadyStateGate,
    StepEntry,
    StepStatus,
)
from runner.journal.events import AuditEvent
from runner.journal.run import Ref, Run
from runner.journal.status import Status
from runner.measure.results import Bounds
from runner.measure.results import Status as Judged
from runner.measure.spans import SpanResult

T = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def _run(**fields: Any) -> Run:
    base: dict[str, Any] = {"status": Status.FAILED, "reason": "r"}
    return Run(run_id="r1", scenario=Ref(name="s"), drill=Ref(name="d"), **{**base, **fields})


def _step(name: str, status: StepStatus, error: str | None = None) -> StepEntry:
    return StepEntry(
        phase="failover" if status is StepStatus.FAILED else "failback",
        name=name,
        action="shell",
        status=status,
        started_at=T,
        error=error,
    )


def _fault(name: str, *, recovered: bool = False, one_shot: bool = False) -> FaultEntry:
    return FaultEntry(
        cluster="a",
        fault=name,
        kind="PodChaos",
        name=name,
        injected_at=T,
        recovered_at=T if recovered else None,
        one_shot=one_shot,
    )


def test_each_problem_has_its_own_stable_id() -> None:
    rto = SpanResult(
        name="RTO",
        bounds=Bounds(lower=12, upper=13),
        status=Judged.MISSED,
        explanation="",
        start="a",
        end="b",
        objective_seconds=5,
    )
    rpo = SpanResult(
        name="RPO", bounds=None, status=Judged.INCONCLUSIVE, explanation="no lag sample",
        start="a", end="b",
    )  # fmt: skip
    run = _run(
        measurements=Measurements(rto=rto, rpo=rpo),
        steps=(
            _step("Promote DB", StepStatus.FAILED, "boom"),
            _step("promote db", StepStatus.FAILED, "again"),
            _step("x", StepStatus.SUCCEEDED),
        ),
        steady_state={"after": SteadyStateGate(passed=False)},
        guardrails=(GuardrailBreach(name="Error budget", value=0.5, breached_at=T),),
        faults=(_fault("f1"), _fault("f2", recovered=True), _fault("pod-kill", one_shot=True)),
    )
    ids = [f.id for f in exercise.findings(run)]
    assert ids == [
        "rto-missed", "rpo-inconclusive", "step-failover-promote-db", "step-failover-promote-db-2",
        "steady-state-after", "guardrail-error-budget", "fault-left-a-f1",
    ]  # fmt: skip
    assert [f.id for f in exercise.findings(run)] == ids
    found = exercise.findings(run)
    assert "12.5s (between 12s and 13s) missed the objective 5s" in found[0].description
    assert found[1].description == "no lag sample"
    assert found[2].description == "boom" and found[2].subject == "failover/Promote DB"
    assert found[5].description == ("guardrail breached: value 0.5 at 2026-11-29T10:00:00+00:00")


def test_findings_read_the_record_as_written() -> None:
    """The same findings from the typed run and from its run.json read back."""
    rto = SpanResult(
        name="RTO", bounds=Bounds(lower=1.0004, upper=2.00049), status=Judged.MISSED,
        explanation="", start="a", end="b", objective_seconds=0.5,
    )  # fmt: skip
    run = _run(measurements=Measurements(rto=rto))
    again = Run.from_json(json.loads(json.dumps(run.to_json())))
    assert exercise.findings(run) == exercise.findings(again)
    # to the millisecond, whichever way the run was read
    assert exercise.findings(run)[0].description == (
        "RTO 1.5s (between 1s and 2s) missed the objective 0.5s"
    )


def test_a_verdict_nothing_else_explains_is_one_deficiency() -> None:
    assert [f.id for f in exercise.findings(_run(status=Status.ERROR))] == ["run-error"]
    assert [f.id for f in exercise.findings(_run(status=Status.CRASHED))] == ["run-crashed"]
    assert exercise.findings(_run(status=Status.PASSED)) == []
    assert exercise.findings(_run(status=Status.RUNNING)) == []


def test_closure_stands_and_assignments_update() -> None:
    """Read through the journal: a typed run and typed events.jsonl lines."""
    run = Run.from_json(
        {
            "runId": "r1",
            "scenario": {"name": "s"},
            "drill": {"name": "d"},
            "status": "failed",
            "measurements": {"rto": {"status": "missed"}},
        }
    )

    def entry(action: str, minute: int, actor: str = "", **details: str) -> AuditEvent:
        at = f"2026-11-29T10:0{minute}:00+00:00"
        return AuditEvent.from_json(
            {"action": action, "time": at, "actor": actor, "details": details}
        )

    events = [
        entry("deficiency.assigned", 1, id="rto-missed", owner="a"),
        entry("deficiency.assigned", 2, id="rto-missed", due="2027-01-01"),
        entry("deficiency.closed", 3, "b", id="rto-missed", resolvedBy="r2"),
        entry("deficiency.closed", 4, id="rto-missed", resolvedBy="r3"),
        entry("signoff", 5, "c", comment="ok", status="failed"),
        entry("step.scale", 6, "c", step="x"),  # not an exercise entry
    ]
    assert [type(e.exercise).__name__ for e in events] == [
        "DeficiencyAssigned",
        "DeficiencyAssigned",
        "DeficiencyClosed",
        "DeficiencyClosed",
        "SignOff",
        "NoneType",
    ]
    ex = exercise.read(run, events)
    (d,) = ex.deficiencies
    assert (d.owner, d.due, d.resolved_by, d.closed_by, d.is_open) == (
        "a",
        "2027-01-01",
        "r2",
        "b",
        False,
    )
    assert [s.by for s in ex.signoffs] == ["c"]
    assert d.closed_at is not None and d.closed_at.minute == 3  # the first closure stands
    assert exercise.read(run, events[:2]).deficiencies[0].is_open
