"""The journal's entries: frozen values for what a run did, each with its JSON form.

Phases, faults, steps, steady-state gates, guardrail breaches, the timeline's moments and a
crashed run's closing (the observed ground truth is `journal.observed`). Times are aware
datetimes; their JSON form is ISO 8601 (what run.json has always held). Measurements are
the typed results of `runner.measure.results` themselves; records written before
measurement v2 are read as `LegacyMeasurement` (shown, never re-judged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from runner.measure import timebase
from runner.measure.checks import CheckResult
from runner.measure.failback import RejoinResult, SplitBrainResult
from runner.measure.results import (
    Bounds,
    CanaryOutcome,
    Outage,
    RpoResult,
    RtoResult,
    Status,
)
from runner.measure.spans import SpanResult

JSON = dict[str, Any]


def iso(t: datetime | None) -> str | None:
    """A time's JSON form (ISO 8601), None for None: the one datetime → text helper."""
    return None if t is None else t.isoformat()


def parse_time(value: Any) -> datetime | None:
    """The inverse of `iso`; ValueError for text that is not a time."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    return datetime.fromisoformat(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class PhaseName(StrEnum):
    """The engine's phases, in the order a full run goes through them."""

    PREFLIGHT = "preflight"
    BASELINE = "baseline"
    """Read-only recipe steps before the steady-state gate (step recipes)."""
    STEADY_STATE = "steady-state"
    INJECT = "inject"
    OBSERVE = "observe"
    FAILOVER = "failover"
    VERIFY = "verify"
    RECOVER_FAULTS = "recover-faults"
    FAILBACK = "failback"
    POST_STEADY_STATE = "post-steady-state"
    CLEANUP = "cleanup"
    REPORT = "report"


class PhaseStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    STOPPED = "stopped"
    """The forward phases stopped for a reason already recorded (gate, record write)."""


class StepStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, kw_only=True)
class PhaseEntry:
    name: PhaseName
    status: PhaseStatus = PhaseStatus.RUNNING
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None

    def to_json(self) -> JSON:
        return {
            "name": self.name.value,
            "status": self.status.value,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at),
            "error": self.error,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PhaseEntry:
        started = parse_time(d.get("startedAt"))
        if started is None:
            raise ValueError("startedAt is missing")
        return cls(
            name=PhaseName(d["name"]),
            status=PhaseStatus(d["status"]),
            started_at=started,
            finished_at=parse_time(d.get("finishedAt")),
            error=_text(d.get("error")),
        )

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def duration(self) -> timedelta | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(frozen=True, kw_only=True)
class FaultEntry:
    """One object a run created to inject a fault."""

    cluster: str
    fault: str
    kind: str
    name: str
    namespace: str | None = None
    injected_at: datetime | None = None
    """When injection was confirmed (None until then)."""
    recovered_at: datetime | None = None
    """When it was removed (None: still there, or its removal failed)."""
    one_shot: bool = False

    @property
    def removed(self) -> bool:
        return self.recovered_at is not None

    def to_json(self) -> JSON:
        return {
            "cluster": self.cluster,
            "fault": self.fault,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "injectedAt": iso(self.injected_at),
            "oneShot": self.one_shot,
            "recoveredAt": iso(self.recovered_at),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FaultEntry:
        return cls(
            cluster=str(d["cluster"]),
            fault=str(d.get("fault") or ""),
            kind=str(d["kind"]),
            name=str(d["name"]),
            namespace=_text(d.get("namespace")),
            injected_at=parse_time(d.get("injectedAt")),
            recovered_at=parse_time(d.get("recoveredAt")),
            one_shot=bool(d.get("oneShot")),
        )


@dataclass(frozen=True, kw_only=True)
class StepEntry:
    """One failover or failback step, with every attempt folded in."""

    phase: str
    name: str
    action: str
    cluster: str | None = None
    status: StepStatus = StepStatus.RUNNING
    attempts: int = 0
    started_at: datetime
    finished_at: datetime | None = None
    output: str = ""
    error: str | None = None
    details: Mapping[str, Any] | None = None
    """What a step reports for later analysis (DNS timings for the RTO's breakdown)."""
    id: str | None = None
    """The step's `id` in the scenario (what `${{ steps.<id>.* }}` and spans name)."""
    recipe: str | None = None
    """The recipe (`uses:`) the step came from."""

    def to_json(self) -> JSON:
        out: JSON = {
            "phase": self.phase,
            "name": self.name,
            "action": self.action,
            "cluster": self.cluster,
            "status": self.status.value,
            "attempts": self.attempts,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at),
            "output": self.output,
            "error": self.error,
        }
        if self.id:
            out["id"] = self.id
        if self.recipe:
            out["recipe"] = self.recipe
        if self.details is not None:
            out["details"] = dict(self.details)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StepEntry:
        started = parse_time(d.get("startedAt"))
        if started is None:
            raise ValueError("startedAt is missing")
        details = d.get("details")
        return cls(
            phase=str(d["phase"]),
            name=str(d["name"]),
            action=str(d["action"]),
            cluster=_text(d.get("cluster")),
            status=StepStatus(d["status"]),
            attempts=int(d.get("attempts") or 0),
            started_at=started,
            finished_at=parse_time(d.get("finishedAt")),
            output=str(d.get("output") or ""),
            error=_text(d.get("error")),
            details=dict(details) if isinstance(details, Mapping) else None,
            id=_text(d.get("id")),
            recipe=_text(d.get("recipe")),
        )


@dataclass(frozen=True, kw_only=True)
class SteadyStateGate:
    """The steady-state checks evaluated at one moment (`before` injection, `after`)."""

    passed: bool
    checks: tuple[CheckResult, ...] = ()

    def to_json(self) -> JSON:
        return {"passed": self.passed, "checks": [c.to_json() for c in self.checks]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SteadyStateGate:
        return cls(
            passed=bool(d.get("passed")),
            checks=tuple(CheckResult.from_json(c) for c in d.get("checks") or []),
        )


@dataclass(frozen=True, kw_only=True)
class GuardrailBreach:
    name: str
    value: float
    breached_at: datetime

    def to_json(self) -> JSON:
        return {"name": self.name, "value": self.value, "breachedAt": iso(self.breached_at)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GuardrailBreach:
        at = parse_time(d.get("breachedAt"))
        if at is None:
            raise ValueError("breachedAt is missing")
        return cls(name=str(d["name"]), value=float(d["value"]), breached_at=at)


_MOMENTS = (
    ("fault_requested", "faultRequested"),
    ("fault_start", "faultStart"),
    ("failover_started", "failoverStarted"),
    ("failover_done", "failoverDone"),
    ("window_end", "windowEnd"),
    ("failback_started", "failbackStarted"),
    ("failback_done", "failbackDone"),
    ("failback_window_end", "failbackWindowEnd"),
)


@dataclass(frozen=True, kw_only=True)
class Timeline:
    """The moments that matter, at millisecond resolution where the measurement uses them."""

    fault_requested: datetime | None = None
    """When the engine asked for the scenario's `measure.from` fault."""
    fault_start: datetime | None = None
    """When that fault's injection was confirmed."""
    failover_started: datetime | None = None
    failover_done: datetime | None = None
    window_end: datetime | None = None
    failback_started: datetime | None = None
    failback_done: datetime | None = None
    failback_window_end: datetime | None = None

    def moments(self) -> dict[str, datetime]:
        """The moments recorded so far, by their run.json key (`faultStart`, ...)."""
        return {key: getattr(self, attr) for attr, key in _MOMENTS if getattr(self, attr)}

    def to_json(self) -> JSON:
        return {key: iso(t) for key, t in self.moments().items()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Timeline:
        return cls(**{attr: parse_time(d.get(key)) for attr, key in _MOMENTS})


@dataclass(frozen=True, kw_only=True)
class LegacyMeasurement:
    """An RTO or RPO written by measurement v1 (before bounds), or an objective the run
    could not measure (`{status: inconclusive, explanation: "not measured: ..."}`): shown as
    written, never re-judged (v1 grid values cannot be trusted, docs/measurement.md)."""

    seconds: float | None
    uncertainty_seconds: float | None
    objective_seconds: float | None
    status: Status
    method: str
    explanation: str
    details: Mapping[str, Any]
    raw: Mapping[str, Any]
    bounds: Bounds | None = None

    @property
    def time_to_detect_seconds(self) -> float | None:
        value = self.details.get("timeToDetectSeconds")
        return None if value is None else float(value)

    @property
    def time_to_failover_seconds(self) -> float | None:
        value = self.details.get("timeToFailoverSeconds")
        return None if value is None else float(value)

    @property
    def outages(self) -> tuple[Outage, ...]:
        return tuple(Outage.from_json(o) for o in self.details.get("outages") or [])

    @property
    def canary(self) -> CanaryOutcome | None:
        canary = self.details.get("canary")
        if not isinstance(canary, Mapping):
            return None
        lost = canary.get("lostWrites")
        return CanaryOutcome(lost_writes=None if lost is None else int(lost))

    @property
    def max_lost_writes(self) -> int | None:
        value = self.details.get("maxLostWrites")
        return None if value is None else int(value)

    def to_json(self) -> JSON:
        return dict(self.raw)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LegacyMeasurement:
        def num(key: str) -> float | None:
            value = d.get(key)
            return None if value is None else float(value)

        return cls(
            seconds=num("seconds"),
            uncertainty_seconds=num("uncertaintySeconds"),
            objective_seconds=num("objectiveSeconds"),
            status=Status(d["status"]),
            method=str(d.get("method") or "-"),
            explanation=str(d.get("explanation") or ""),
            details=dict(d.get("details") or {}),
            raw=dict(d),
        )


Rto = RtoResult | SpanResult | LegacyMeasurement
Rpo = RpoResult | SpanResult | LegacyMeasurement
SplitBrain = SplitBrainResult | LegacyMeasurement
Rejoin = RejoinResult | LegacyMeasurement
Measurement = Rto | Rpo | SplitBrain | Rejoin

_KEYS = (
    ("rto", "rto"),
    ("rpo", "rpo"),
    ("failbackRto", "failback_rto"),
    ("failbackRpo", "failback_rpo"),
    ("splitBrain", "split_brain"),
    ("rejoin", "rejoin"),
)
"""Each measurement's key in run.json and its field, in the order they are shown."""


def _rto(d: Mapping[str, Any]) -> Rto:
    if d.get("method") == "span":  # measured between recorded instants (`measure.spans`)
        return SpanResult.from_json(dict(d), name="RTO")
    return RtoResult.from_json(dict(d)) if "lowerSeconds" in d else LegacyMeasurement.from_json(d)


def _rpo(d: Mapping[str, Any]) -> Rpo:
    if d.get("method") == "span":
        return SpanResult.from_json(dict(d), name="RPO")
    return RpoResult.from_json(dict(d)) if "lowerSeconds" in d else LegacyMeasurement.from_json(d)


def _split(d: Mapping[str, Any]) -> SplitBrain:
    if "lowerWrites" in d:
        return SplitBrainResult.from_json(dict(d))
    return LegacyMeasurement.from_json(d)


def _rejoin(d: Mapping[str, Any]) -> Rejoin:
    return RejoinResult.from_json(dict(d)) if "expect" in d else LegacyMeasurement.from_json(d)


@dataclass(frozen=True, kw_only=True)
class Measurements:
    """What the run measured, each the typed result itself; an objective that could not
    be measured is a `LegacyMeasurement` saying why (inconclusive)."""

    rto: Rto | None = None
    rpo: Rpo | None = None
    failback_rto: Rto | None = None
    failback_rpo: Rpo | None = None
    split_brain: SplitBrain | None = None
    rejoin: Rejoin | None = None

    def items(self) -> list[tuple[str, Measurement]]:
        """(run.json key, result) for what was measured, in the order they are shown."""
        out: list[tuple[str, Measurement]] = []
        for key, attr in _KEYS:
            m = getattr(self, attr)
            if m is not None:
                out.append((key, m))
        return out

    def timed(self) -> list[tuple[str, Rto | Rpo]]:
        """The RTO and RPO results (failover and failback): durations with bounds."""
        pairs = (
            ("rto", self.rto),
            ("rpo", self.rpo),
            ("failbackRto", self.failback_rto),
            ("failbackRpo", self.failback_rpo),
        )
        return [(k, m) for k, m in pairs if m is not None]

    def to_json(self) -> JSON:
        return {k: m.to_json() for k, m in self.items()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Measurements:
        def get(key: str, build: Any) -> Any:
            value = d.get(key)
            return build(value) if value else None

        return cls(
            rto=get("rto", _rto),
            rpo=get("rpo", _rpo),
            failback_rto=get("failbackRto", _rto),
            failback_rpo=get("failbackRpo", _rpo),
            split_brain=get("splitBrain", _split),
            rejoin=get("rejoin", _rejoin),
        )


@dataclass(frozen=True, kw_only=True)
class Crash:
    """How a run whose process died was closed, by whoever closed it."""

    detected_at: datetime | None
    by: str = ""
    faults_removed: tuple[str, ...] = ()
    faults_left: tuple[str, ...] = ()
    locks_released: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return {
            "detectedAt": iso(self.detected_at),
            "by": self.by,
            "faultsRemoved": list(self.faults_removed),
            "faultsLeft": list(self.faults_left),
            "locksReleased": list(self.locks_released),
            "errors": list(self.errors),
            **self.extra,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Crash:
        known = {"detectedAt", "by", "faultsRemoved", "faultsLeft", "locksReleased", "errors"}
        return cls(
            detected_at=parse_time(d.get("detectedAt")),
            by=str(d.get("by") or ""),
            faults_removed=tuple(str(x) for x in d.get("faultsRemoved") or []),
            faults_left=tuple(str(x) for x in d.get("faultsLeft") or []),
            locks_released=tuple(str(x) for x in d.get("locksReleased") or []),
            errors=tuple(str(x) for x in d.get("errors") or []),
            extra={k: v for k, v in d.items() if k not in known},
        )


@dataclass(frozen=True, kw_only=True)
class JournalHead:
    """The head of events.jsonl's hash chain: how many entries, and the SHA-256 (hex) of the
    last line (`runner.journal.chain`)."""

    entries: int
    head: str

    def to_json(self) -> JSON:
        return {"entries": self.entries, "head": self.head}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> JournalHead:
        return cls(entries=int(d["entries"]), head=str(d["head"]))


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def ms(t: datetime) -> int:
    """A time as the measurement's whole milliseconds."""
    return timebase.ms(t)


# ------------------------------------------------------------------ exercise entries
# Lines of events.jsonl that record the exercise around a run (appended, never rewritten):
# who approved what during it, the deficiencies it found, their owner, due date and
# closure, and the sign-offs after it. `exercise_entry` is their one reader.

APPROVAL = "approval"
SIGNOFF = "signoff"
OPENED = "deficiency.opened"
ASSIGNED = "deficiency.assigned"
CLOSED = "deficiency.closed"


@dataclass(frozen=True, kw_only=True)
class Approval:
    at: datetime | None
    by: str
    what: str
    subject: str
    how: str
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class SignOff:
    at: datetime | None
    by: str
    comment: str
    status: str
    """The run's verdict that was signed off."""


@dataclass(frozen=True, kw_only=True)
class DeficiencyOpened:
    """Written by the engine when the run ends: one finding (see `evidence.exercise`)."""

    at: datetime | None
    id: str
    kind: str
    subject: str
    description: str


@dataclass(frozen=True, kw_only=True)
class DeficiencyAssigned:
    at: datetime | None
    id: str
    owner: str | None
    due: str | None
    """YYYY-MM-DD."""


@dataclass(frozen=True, kw_only=True)
class DeficiencyClosed:
    at: datetime | None
    id: str
    by: str
    """Who closed it."""
    resolved_by: str
    """The later passing run that closed it."""


ExerciseEntry = Approval | SignOff | DeficiencyOpened | DeficiencyAssigned | DeficiencyClosed


def exercise_entry(
    *, time: datetime | None, actor: str, action: str, target: str, details: Mapping[str, Any]
) -> ExerciseEntry | None:
    """The exercise entry an events.jsonl line records; None for any other line (and for a
    deficiency line without its id)."""

    def text(key: str) -> str:
        return str(details.get(key) or "")

    if action == APPROVAL:
        return Approval(
            at=time,
            by=text("by") or actor,
            what=text("what"),
            subject=text("subject") or target,
            how=text("how"),
            comment=text("comment"),
        )
    if action == SIGNOFF:
        return SignOff(
            at=time, by=text("by") or actor, comment=text("comment"), status=text("status")
        )
    ident = details.get("id")
    if not isinstance(ident, str):
        return None
    if action == OPENED:
        return DeficiencyOpened(
            at=time,
            id=ident,
            kind=text("kind"),
            subject=text("subject"),
            description=text("description"),
        )
    if action == ASSIGNED:
        return DeficiencyAssigned(
            at=time, id=ident, owner=text("owner") or None, due=text("due") or None
        )
    if action == CLOSED:
        return DeficiencyClosed(at=time, id=ident, by=actor, resolved_by=text("resolvedBy"))
    return None
