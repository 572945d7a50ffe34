"""The exercise around a run, read from its record and its journal: the approvals given
during it, the deficiencies it found (each with a stable id, its owner, due date and
closure), the sign-offs after it, and the controls it evidences.

Journal entries (actions of `events.jsonl` lines, appended, never rewritten):
`approval` (who approved what, how, with what comment), `deficiency.opened` (written by the
engine when the run ends), `deficiency.assigned` (owner, due date), `deficiency.closed`
(the later passing run that closed it, with that run's journal head) and `signoff`.
Deficiencies are derived from the record with the same ids every time (`findings`), so a
run recorded before this existed, or closed by a crash sweeper, still lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

APPROVAL = "approval"
SIGNOFF = "signoff"
OPENED = "deficiency.opened"
ASSIGNED = "deficiency.assigned"
CLOSED = "deficiency.closed"


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
class Approval:
    at: str
    by: str
    what: str
    subject: str
    how: str
    comment: str = ""


@dataclass(frozen=True)
class SignOff:
    at: str
    by: str
    comment: str
    status: str
    """The run's verdict that was signed off."""


@dataclass(frozen=True)
class Deficiency:
    finding: Finding
    opened_at: str | None = None
    owner: str | None = None
    due: str | None = None
    closed_at: str | None = None
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
            "openedAt": self.opened_at,
            "owner": self.owner,
            "due": self.due,
            "state": "open" if self.is_open else "closed",
            "resolvedBy": self.resolved_by,
            "closedAt": self.closed_at,
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


def read(run: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> Exercise:
    """The exercise as the record and the journal say it is now."""
    approvals: list[Approval] = []
    signoffs: list[SignOff] = []
    state: dict[str, dict[str, Any]] = {}
    derived = {f.id: f for f in findings(run)}
    for e in events:
        action, at, details = e.get("action"), str(e.get("time") or ""), e.get("details") or {}
        if not isinstance(details, Mapping):
            continue
        actor = str(e.get("actor") or "")
        if action == APPROVAL:
            approvals.append(
                Approval(
                    at=at,
                    by=str(details.get("by") or actor),
                    what=str(details.get("what") or ""),
                    subject=str(details.get("subject") or e.get("target") or ""),
                    how=str(details.get("how") or ""),
                    comment=str(details.get("comment") or ""),
                )
            )
        elif action == SIGNOFF:
            signoffs.append(
                SignOff(
                    at=at,
                    by=str(details.get("by") or actor),
                    comment=str(details.get("comment") or ""),
                    status=str(details.get("status") or ""),
                )
            )
        elif action in (OPENED, ASSIGNED, CLOSED) and isinstance(details.get("id"), str):
            ident = details["id"]
            item = state.setdefault(ident, {})
            if action == OPENED:
                item.setdefault("opened_at", at)
                if ident not in derived:
                    derived[ident] = Finding(
                        ident,
                        str(details.get("kind") or ""),
                        str(details.get("subject") or ""),
                        str(details.get("description") or ""),
                    )
            elif action == ASSIGNED:
                if details.get("owner"):
                    item["owner"] = str(details["owner"])
                if details.get("due"):
                    item["due"] = str(details["due"])
            elif "resolved_by" not in item:  # the first closure stands
                item.update(
                    resolved_by=str(details.get("resolvedBy") or ""),
                    closed_at=at,
                    closed_by=actor,
                )
    deficiencies = [Deficiency(finding=f, **state.get(i, {})) for i, f in derived.items()]
    metadata = run.get("exercise") or {}
    return Exercise(
        metadata=metadata if isinstance(metadata, Mapping) else {},
        approvals=approvals,
        signoffs=signoffs,
        deficiencies=deficiencies,
        controls=_controls(run, metadata, deficiencies, bool(signoffs)),
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
