"""Deficiency ids: derived from the record, the same every time, one per problem."""

from __future__ import annotations

from typing import Any

from runner.evidence import exercise
from runner.journal.events import AuditEvent
from runner.journal.run import Run


def _run(**fields: Any) -> dict[str, Any]:
    return {"status": "failed", "reason": "r", "measurements": {}, "steps": [], **fields}


def test_each_problem_has_its_own_stable_id() -> None:
    run = _run(
        measurements={
            "rto": {
                "status": "missed",
                "seconds": 12.5,
                "lowerSeconds": 12,
                "upperSeconds": 13,
                "objectiveSeconds": 5,
            },
            "rpo": {"status": "inconclusive", "explanation": "no lag sample"},
        },
        steps=[
            {"phase": "failover", "name": "Promote DB", "status": "failed", "error": "boom"},
            {"phase": "failover", "name": "promote db", "status": "failed", "error": "again"},
            {"phase": "failback", "name": "x", "status": "succeeded"},
        ],
        steadyState={"after": {"passed": False}},
        guardrails=[{"name": "Error budget", "value": 0.5, "breachedAt": "t"}],
        faults=[
            {"cluster": "a", "name": "f1", "injectedAt": "t", "recoveredAt": None},
            {"cluster": "a", "name": "f2", "injectedAt": "t", "recoveredAt": "t"},
            {"cluster": "a", "name": "pod-kill", "injectedAt": "t", "oneShot": True},
        ],
    )
    ids = [f.id for f in exercise.findings(run)]
    assert ids == [
        "rto-missed", "rpo-inconclusive", "step-failover-promote-db", "step-failover-promote-db-2",
        "steady-state-after", "guardrail-error-budget", "fault-left-a-f1",
    ]  # fmt: skip
    assert [f.id for f in exercise.findings(run)] == ids
    assert (
        "12.5s (between 12s and 13s) missed the objective 5s"
        in exercise.findings(run)[0].description
    )


def test_a_verdict_nothing_else_explains_is_one_deficiency() -> None:
    assert [f.id for f in exercise.findings(_run(status="error"))] == ["run-error"]
    assert [f.id for f in exercise.findings(_run(status="crashed"))] == ["run-crashed"]
    assert exercise.findings(_run(status="passed")) == []
    assert exercise.findings(_run(status="running")) == []


def test_closure_stands_and_assignments_update() -> None:
    """Read through the journal: a typed run and typed events.jsonl lines."""
    run = Run.from_json(
        {
            "runId": "r1",
            "scenario": {"name": "s"},
            "drill": {"name": "d"},
            **_run(measurements={"rto": {"status": "missed"}}),
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
