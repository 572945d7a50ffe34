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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, assert_never

from runner.journal import entries
from runner.journal.entries import APPROVAL, ASSIGNED, CLOSED, OPENED, SIGNOFF, Approval, SignOff
from runner.journal.events import AuditEvent
from runner.journal.run import Run

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
    metadata: Mapping[str, Any] = field(default_factory=dict)
    approvals: Sequence[Approval] = ()
    signoffs: Sequence[SignOff] = ()
    deficiencies: Sequence[Deficiency] = ()
    controls: Sequence[Control] = ()

    def deficiency(self, ident: str) -> Deficiency | None:
        return next((d for d in self.deficiencies if d.id == ident), None)


def _slug(text: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:40] or "unnamed"


def _seconds(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:g}s"


def findings(run: Mapping[str, Any]) -> list[Finding]:
    """What this run shows is wrong, with ids that are the same every time they are derived."""
    out: list[Finding] = []
    measurements = run.get("measurements") or {}
    for key in ("rto", "rpo"):
        m = measurements.get(key)
        if not isinstance(m, Mapping):
            continue
        status = m.get("status")
        name = key.upper()
        if status == "missed":
            out.append(
                Finding(
                    f"{key}-missed",
                    "objective-missed",
                    name,
                    f"{name} {_seconds(m.get('seconds'))} (between "
                    f"{_seconds(m.get('lowerSeconds'))} and {_seconds(m.get('upperSeconds'))}) "
                    f"missed the objective {_seconds(m.get('objectiveSeconds'))}",
                )
            )
        elif status == "inconclusive":
            out.append(
                Finding(
                    f"{key}-inconclusive",
                    "measurement-inconclusive",
                    name,
                    str(m.get("explanation") or f"{name} could not be decided from the data"),
                )
            )
    for step in run.get("steps") or []:
        if isinstance(step, Mapping) and step.get("status") == "failed":
            out.append(
                Finding(
                    f"step-{_slug(step.get('phase'))}-{_slug(step.get('name'))}",
                    "step-failed",
                    f"{step.get('phase')}/{step.get('name')}",
                    str(step.get("error") or "the step failed"),
                )
            )
    after = (run.get("steadyState") or {}).get("after")
    if isinstance(after, Mapping) and after.get("passed") is False:
        out.append(
            Finding(
                "steady-state-after",
                "steady-state-failed",
                "steady state after failback",
                "the steady-state checks did not hold after failback",
            )
        )
    for breach in run.get("guardrails") or []:
        if isinstance(breach, Mapping):
            out.append(
                Finding(
                    f"guardrail-{_slug(breach.get('name'))}",
                    "guardrail-breached",
                    str(breach.get("name")),
                    f"guardrail breached: value {breach.get('value')} "
                    f"at {breach.get('breachedAt')}",
                )
            )
    for fault in run.get("faults") or []:
        left = (
            isinstance(fault, Mapping) and fault.get("injectedAt") and not fault.get("recoveredAt")
        )
        if left and isinstance(fault, Mapping) and not fault.get("oneShot"):
            out.append(
                Finding(
                    f"fault-left-{_slug(fault.get('cluster'))}-{_slug(fault.get('name'))}",
                    "fault-not-removed",
                    f"{fault.get('cluster')}/{fault.get('name')}",
                    "an injected fault was not removed by the run",
                )
            )
    status = str(run.get("status") or "")
    if status not in ("passed", "running", "") and not out:
        out.append(
            Finding(
                f"run-{_slug(status)}",
                "run-not-passed",
                "run",
                f"the run ended {status}: {run.get('reason') or 'no reason recorded'}",
            )
        )
    seen: dict[str, int] = {}
    unique = []
    for f in out:
        n = seen.get(f.id, 0) + 1
        seen[f.id] = n
        unique.append(f if n == 1 else Finding(f"{f.id}-{n}", f.kind, f.subject, f.description))
    return unique


def read(run: Run, events: Sequence[AuditEvent]) -> Exercise:
    """The exercise as the record and the journal say it is now. The journal's exercise
    entries are typed (`journal.entries`); the findings are derived from the record."""
    record = run.to_json()
    approvals: list[Approval] = []
    signoffs: list[SignOff] = []
    state: dict[str, dict[str, Any]] = {}
    derived = {f.id: f for f in findings(record)}
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
    metadata = record.get("exercise") or {}
    return Exercise(
        metadata=metadata if isinstance(metadata, Mapping) else {},
        approvals=approvals,
        signoffs=signoffs,
        deficiencies=deficiencies,
        controls=_controls(record, metadata, deficiencies, bool(signoffs)),
    )


def _controls(
    run: Mapping[str, Any],
    metadata: Any,
    deficiencies: Sequence[Deficiency],
    signed_off: bool,
) -> list[Control]:
    ids = metadata.get("controls") if isinstance(metadata, Mapping) else None
    if not isinstance(ids, list) or not ids:
        return []
    measurements = run.get("measurements") or {}
    rows = []
    for key in ("rto", "rpo"):
        m = measurements.get(key)
        if isinstance(m, Mapping):
            measured = (
                f"{_seconds(m.get('seconds'))} ({_seconds(m.get('lowerSeconds'))}–"
                f"{_seconds(m.get('upperSeconds'))})"
            )
            rows.append(
                (
                    key.upper(),
                    measured,
                    f"<= {_seconds(m.get('objectiveSeconds'))}",
                    str(m.get("status") or "not measured"),
                )
            )
    open_count = sum(1 for d in deficiencies if d.is_open)
    return [
        Control(
            id=str(c),
            verdict=str(run.get("status") or "?"),
            objectives=rows,
            open_deficiencies=open_count,
            signed_off=signed_off,
        )
        for c in ids
    ]


def metadata(
    scenario: Any, drill: Any, *, run_id: str, scenario_name: str, day: str
) -> dict[str, Any] | None:
    """The run's `exercise`: the scenario's and the drill's `spec.exercise` merged (the
    scenario's id and scope first; owners and controls from both, in order, once each),
    with `{scenario}`, `{date}` and `{run}` replaced in the id. None when neither has one."""
    parts = [p for p in (scenario, drill) if p is not None]
    if not parts:
        return None
    ident = next((p.id for p in parts if p.id), None)
    scope = next((p.scope for p in parts if p.scope is not None), None)
    out: dict[str, Any] = {
        "id": ident.replace("{scenario}", scenario_name)
        .replace("{date}", day)
        .replace("{run}", run_id)
        if ident
        else None,
        "scope": scope.model_dump(mode="json", exclude_none=True) if scope else None,
        "owners": list(dict.fromkeys(o for p in parts for o in p.owners)),
        "controls": list(dict.fromkeys(c for p in parts for c in p.controls)),
    }
    return {k: v for k, v in out.items() if v}
