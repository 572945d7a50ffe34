"""The exercise around a run, read from its record and its journal: the approvals given
during it, the deficiencies it found (each with a stable id, its owner, due date and
closure), the sign-offs after it, and the controls it evidences.

The journal's exercise entries (`runner.journal.entries`: `Approval`, `SignOff`,
`DeficiencyOpened` written by the engine when the run ends, `DeficiencyAssigned` with owner
and due date, `DeficiencyClosed` by a later passing run) are read typed, through
`AuditEvent.exercise`.
Deficiencies are derived from the record with the same ids every time (`findings`), so a
run recorded before this existed, or closed by a crash sweeper, still lists them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from runner.journal import entries
from runner.journal.entries import (
    APPROVAL,
    ASSIGNED,
    CLOSED,
    OPENED,
    SIGNOFF,
    Approval,
    Rpo,
    Rto,
    SignOff,
    StepStatus,
)
from runner.journal.events import AuditEvent
from runner.journal.framing import ExerciseMetadata, ExerciseScope
from runner.journal.run import Run
from runner.journal.status import Status
from runner.measure.results import Status as Judged

__all__ = ["APPROVAL", "ASSIGNED", "CLOSED", "OPENED", "SIGNOFF", "Approval", "SignOff"]


@dataclass(frozen=True)
class Finding:
    """Something the run shows is wrong: a missed objective, a failed step, an
    inconclusive measurement, a verdict other than passed."""

    id: str
    kind: str
    subject: str
    description: str

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "description": self.description,
        }


@dataclass(frozen=True)
class Deficiency:
    finding: Finding
    opened_at: datetime | None = None
    owner: str | None = None
    due: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    resolved_by: str | None = None
    """The later passing run that closed it."""

    @property
    def id(self) -> str:
        return self.finding.id

    @property
    def is_open(self) -> bool:
        return self.resolved_by is None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.finding.to_json(),
            "openedAt": entries.iso(self.opened_at),
            "owner": self.owner,
            "due": self.due,
            "state": "open" if self.is_open else "closed",
            "resolvedBy": self.resolved_by,
            "closedAt": entries.iso(self.closed_at),
            "closedBy": self.closed_by,
        }


@dataclass(frozen=True)
class Control:
    """One control the exercise evidences, with what in this run speaks to it."""

    id: str
    verdict: str
    objectives: Sequence[tuple[str, str, str, str]]
    """(objective, measured, target, status)."""
    open_deficiencies: int
    signed_off: bool


@dataclass(frozen=True)
class Exercise:
    metadata: ExerciseMetadata | None = None
    approvals: Sequence[Approval] = ()
    signoffs: Sequence[SignOff] = ()
    deficiencies: Sequence[Deficiency] = ()
    controls: Sequence[Control] = ()

    def deficiency(self, ident: str) -> Deficiency | None:
        return next((d for d in self.deficiencies if d.id == ident), None)


def _slug(text: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:40] or "unnamed"


def _seconds(value: float | None) -> str:
    """Seconds as the record shows them (to the millisecond), '-' when unknown."""
    return "-" if value is None else f"{round(value, 3):g}s"


def _objectives(run: Run) -> list[tuple[str, Rto | Rpo]]:
    """The RTO and RPO the run measured, by name."""
    pairs = (("RTO", run.measurements.rto), ("RPO", run.measurements.rpo))
    return [(name, m) for name, m in pairs if m is not None]


def _lower(m: Rto | Rpo) -> float | None:
    return None if m.bounds is None else m.bounds.lower


def _upper(m: Rto | Rpo) -> float | None:
    return None if m.bounds is None else m.bounds.upper


def findings(run: Run) -> list[Finding]:
    """What this run shows is wrong, with ids that are the same every time they are derived."""
    out = [
        *_objective_findings(run),
        *_step_findings(run),
        *_steady_state_findings(run),
        *_guardrail_findings(run),
        *_fault_findings(run),
    ]
    if run.status not in (Status.PASSED, Status.RUNNING) and not out:
        out.append(
            Finding(
                f"run-{_slug(run.status.value)}",
                "run-not-passed",
                "run",
                f"the run ended {run.status.value}: {run.reason or 'no reason recorded'}",
            )
        )
    return _numbered(out)


def _objective_findings(run: Run) -> list[Finding]:
    """An RTO or RPO that missed its objective or could not be decided."""
    out: list[Finding] = []
    for name, m in _objectives(run):
        key = name.lower()
        if m.status is Judged.MISSED:
            out.append(
                Finding(
                    f"{key}-missed",
                    "objective-missed",
                    name,
                    f"{name} {_seconds(m.seconds)} (between {_seconds(_lower(m))} and "
                    f"{_seconds(_upper(m))}) missed the objective {_seconds(m.objective_seconds)}",
                )
            )
        elif m.status is Judged.INCONCLUSIVE:
            out.append(
                Finding(
                    f"{key}-inconclusive",
                    "measurement-inconclusive",
                    name,
                    m.explanation or f"{name} could not be decided from the data",
                )
            )
    return out


def _step_findings(run: Run) -> list[Finding]:
    """Each failed step."""
    return [
        Finding(
            f"step-{_slug(step.phase)}-{_slug(step.name)}",
            "step-failed",
            f"{step.phase}/{step.name}",
            step.error or "the step failed",
        )
        for step in run.steps
        if step.status is StepStatus.FAILED
    ]


def _steady_state_findings(run: Run) -> list[Finding]:
    """The steady state not holding after failback."""
    after = run.steady_state.get("after")
    if after is None or after.passed:
        return []
    return [
        Finding(
            "steady-state-after",
            "steady-state-failed",
            "steady state after failback",
            "the steady-state checks did not hold after failback",
        )
    ]


def _guardrail_findings(run: Run) -> list[Finding]:
    """Each guardrail breached."""
    return [
        Finding(
            f"guardrail-{_slug(breach.name)}",
            "guardrail-breached",
            breach.name,
            f"guardrail breached: value {breach.value} at {entries.iso(breach.breached_at)}",
        )
        for breach in run.guardrails
    ]


def _fault_findings(run: Run) -> list[Finding]:
    """Each injected fault the run did not remove (one-shot faults need no removal)."""
    return [
        Finding(
            f"fault-left-{_slug(fault.cluster)}-{_slug(fault.name)}",
            "fault-not-removed",
            f"{fault.cluster}/{fault.name}",
            "an injected fault was not removed by the run",
        )
        for fault in run.faults
        if fault.injected_at is not None and not fault.removed and not fault.one_shot
    ]


def _numbered(found: list[Finding]) -> list[Finding]:
    """The findings with a repeated id numbered (`-2`, `-3`, ...) so every id is unique."""
    seen: dict[str, int] = {}
    unique = []
    for f in found:
        n = seen.get(f.id, 0) + 1
        seen[f.id] = n
        unique.append(f if n == 1 else Finding(f"{f.id}-{n}", f.kind, f.subject, f.description))
    return unique


def read(run: Run, events: Sequence[AuditEvent]) -> Exercise:
    """The exercise as the record and the journal say it is now. The journal's exercise
    entries are typed (`journal.entries`); the findings are derived from the record."""
    approvals: list[Approval] = []
    signoffs: list[SignOff] = []
    state: dict[str, dict[str, Any]] = {}
    derived = {f.id: f for f in findings(run)}
    for event in events:
        match event.exercise:
            case None:
                continue
            case Approval() as approval:
                approvals.append(approval)
            case SignOff() as signoff:
                signoffs.append(signoff)
            case entries.DeficiencyOpened() as opened:
                state.setdefault(opened.id, {}).setdefault("opened_at", opened.at)
                if opened.id not in derived:
                    derived[opened.id] = Finding(
                        opened.id, opened.kind, opened.subject, opened.description
                    )
            case entries.DeficiencyAssigned() as assigned:
                item = state.setdefault(assigned.id, {})
                if assigned.owner:
                    item["owner"] = assigned.owner
                if assigned.due:
                    item["due"] = assigned.due
            case entries.DeficiencyClosed() as closed:
                item = state.setdefault(closed.id, {})
                if "resolved_by" not in item:  # the first closure stands
                    item.update(
                        resolved_by=closed.resolved_by, closed_at=closed.at, closed_by=closed.by
                    )
            case _:
                assert_never(event.exercise)
    deficiencies = [Deficiency(finding=f, **state.get(i, {})) for i, f in derived.items()]
    return Exercise(
        metadata=run.exercise,
        approvals=approvals,
        signoffs=signoffs,
        deficiencies=deficiencies,
        controls=_controls(run, deficiencies, bool(signoffs)),
    )


def _controls(run: Run, deficiencies: Sequence[Deficiency], signed_off: bool) -> list[Control]:
    ids = () if run.exercise is None else run.exercise.controls
    if not ids:
        return []
    rows = [
        (
            name,
            f"{_seconds(m.seconds)} ({_seconds(_lower(m))}–{_seconds(_upper(m))})",
            f"<= {_seconds(m.objective_seconds)}",
            m.status.value,
        )
        for name, m in _objectives(run)
    ]
    open_count = sum(1 for d in deficiencies if d.is_open)
    return [
        Control(
            id=c,
            verdict=run.status.value,
            objectives=rows,
            open_deficiencies=open_count,
            signed_off=signed_off,
        )
        for c in ids
    ]


def metadata(
    scenario: Any, drill: Any, *, run_id: str, scenario_name: str, day: str
) -> ExerciseMetadata | None:
    """The run's `exercise`: the scenario's and the drill's `spec.exercise` merged (the
    scenario's id and scope first; owners and controls from both, in order, once each),
    with `{scenario}`, `{date}` and `{run}` replaced in the id. None when neither has one."""
    parts = [p for p in (scenario, drill) if p is not None]
    if not parts:
        return None
    ident = next((p.id for p in parts if p.id), None)
    scope = next((p.scope for p in parts if p.scope is not None), None)
    return ExerciseMetadata(
        id=ident.replace("{scenario}", scenario_name)
        .replace("{date}", day)
        .replace("{run}", run_id)
        if ident
        else None,
        scope=None
        if scope is None
        else ExerciseScope(systems=tuple(scope.systems), tier=scope.tier),
        owners=tuple(dict.fromkeys(o for p in parts for o in p.owners)),
        controls=tuple(dict.fromkeys(c for p in parts for c in p.controls)),
    )
