"""RTO and RPO results: frozen values, their verdict against the objectives, and JSON form.

Every measured time is an interval (`Bounds`): the data proves the true value lies in
[lower, upper]. A verdict is decided on the bounds, never on a point estimate: **met** only
when the upper bound is within the objective, **missed** only when the lower bound is
beyond it, and otherwise **inconclusive** ("too close to call at this resolution").
`seconds` (the midpoint) and `uncertaintySeconds` (half the width) are kept for display.

Measuring and judging are separate steps: `compute_*` produce a result without
objectives, `judged()` applies them. These values are the run record's measurement
entries (`to_json`, `from_json`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from runner.measure import timebase
from runner.measure.timebase import Ms


class Status(StrEnum):
    MET = "met"
    MISSED = "missed"
    INCONCLUSIVE = "inconclusive"
    NO_OBJECTIVE = "no-objective"


class RtoOutcome(StrEnum):
    RECOVERED = "recovered"
    """The SLI failed, then recovered and stayed healthy (for at least `hold`) to the end."""
    NEVER_FAILED = "never-failed"
    """No failing sample and no missing data after the fault: the fault did not bite, or
    the SLI cannot see it."""
    NOT_RECOVERED = "not-recovered"
    """No recovery held within the window (or the data stops before it could be proven)."""
    RELAPSED = "relapsed"
    """The SLI recovered for at least `hold`, then failed again before verification ended."""
    NO_DATA = "no-data"
    """Nothing to measure from: no samples, several series, too few samples."""


_MET = {Status.MET: True, Status.MISSED: False}
TOO_CLOSE = "too close to call at this resolution"


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(frozen=True, kw_only=True)
class Bounds:
    """A measured duration the data proves to lie in [lower, upper] seconds (upper None:
    unbounded, e.g. not recovered yet)."""

    lower: float
    upper: float | None

    @property
    def midpoint(self) -> float | None:
        return None if self.upper is None else (self.lower + self.upper) / 2

    @property
    def half_width(self) -> float | None:
        return None if self.upper is None else (self.upper - self.lower) / 2

    def text(self) -> str:
        if self.upper is None:
            return f"more than {self.lower:.3g}s"
        if self.upper == self.lower:
            return f"{self.lower:.3g}s"
        return f"{self.midpoint:.3g}s ± {self.half_width:.3g}s ({self.lower:.3g}–{self.upper:.3g}s)"

    def judge(self, objective: float) -> Status:
        if self.upper is not None and self.upper <= objective:
            return Status.MET
        if self.lower > objective:
            return Status.MISSED
        return Status.INCONCLUSIVE

    def to_json(self) -> dict[str, Any]:
        return {"lower": _r(self.lower), "upper": _r(self.upper)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Bounds | None:
        if not data:
            return None
        return cls(lower=float(data["lower"]), upper=_opt(data.get("upper")))


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _iso(value: Ms | None) -> str | None:
    return timebase.iso(value)


def _ms(value: str | None) -> Ms | None:
    return None if value is None else timebase.parse_iso(value)


@dataclass(frozen=True, kw_only=True)
class Outage:
    """Failing SLI samples: the first failing sample to the first healthy one after it."""

    start: Ms
    end: Ms | None
    """None if the SLI was still failing (or without data) at the end of the window."""

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else (self.end - self.start) / 1000

    def to_json(self) -> dict[str, Any]:
        return {"start": _iso(self.start), "end": _iso(self.end), "seconds": _r(self.seconds)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outage:
        start = _ms(data["start"])
        assert start is not None
        return cls(start=start, end=_ms(data.get("end")))


@dataclass(frozen=True, kw_only=True)
class RtoResult:
    outcome: RtoOutcome
    status: Status
    explanation: str
    bounds: Bounds | None
    """RTO interval (seconds from `verdict_start`), None when nothing could be measured."""
    hold_seconds: float
    fault_start: Ms
    verdict_start: Ms
    """Where the judged RTO starts: the fault start, or the fault request when the SLI was
    already failing at the fault start because of it."""
    fault_requested: Ms | None = None
    interval_seconds: float | None = None
    """The SLI's own sample interval (median spacing of its samples)."""
    widening_seconds: float = 0.0
    """How far the lower bound was widened for ranges in the SLI and `sliWindow`."""
    samples: int = 0
    ignored_samples: int = 0
    gaps: tuple[tuple[Ms, Ms], ...] = ()
    outages: tuple[Outage, ...] = ()
    recovered_at: Ms | None = None
    """The first healthy sample of the final healthy run (the recovery's upper bound)."""
    last_failing_at: Ms | None = None
    relapse_at: Ms | None = None
    outage_start: tuple[Ms, Ms] | None = None
    """When the SLI was already failing at the fault start: the outage began in (a, b]."""
    from_outage_start: Bounds | None = None
    time_to_detect_seconds: float | None = None
    time_to_failover_seconds: float | None = None
    objective_seconds: float | None = None
    method: str = "sli-hold"

    @property
    def seconds(self) -> float | None:
        return None if self.bounds is None else self.bounds.midpoint

    @property
    def uncertainty_seconds(self) -> float | None:
        return None if self.bounds is None else self.bounds.half_width

    @property
    def met(self) -> bool | None:
        return _MET.get(self.status)

    def judged(self, objective_seconds: float | None) -> RtoResult:
        """This result against an RTO objective, decided on the bounds."""
        base = replace(self, objective_seconds=objective_seconds)
        if self.outcome is RtoOutcome.NO_DATA or self.bounds is None:
            return replace(base, status=Status.INCONCLUSIVE)
        if objective_seconds is None:
            return replace(base, status=Status.NO_OBJECTIVE)
        if self.outcome is RtoOutcome.RELAPSED:
            return replace(
                base,
                status=Status.MISSED,
                explanation=f"{self.explanation}; objective {objective_seconds:g}s missed"
                " (the SLI must stay healthy until verification ends)",
            )
        status = self.bounds.judge(objective_seconds)
        if self.outcome is RtoOutcome.NOT_RECOVERED and status is Status.MET:
            status = Status.INCONCLUSIVE  # cannot happen (upper is None); kept for safety
        note = _verdict_note(status, self.bounds, objective_seconds, self.interval_seconds)
        return replace(base, status=status, explanation=f"{self.explanation}; {note}")

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": _r(self.seconds),
            "lowerSeconds": None if self.bounds is None else _r(self.bounds.lower),
            "upperSeconds": None if self.bounds is None else _r(self.bounds.upper),
            "objectiveSeconds": self.objective_seconds,
            "met": self.met,
            "status": self.status.value,
            "outcome": self.outcome.value,
            "method": self.method,
            "uncertaintySeconds": _r(self.uncertainty_seconds),
            "explanation": self.explanation,
            "details": {
                "faultStart": _iso(self.fault_start),
                "faultRequested": _iso(self.fault_requested),
                "verdictStart": _iso(self.verdict_start),
                "holdSeconds": self.hold_seconds,
                "intervalSeconds": _r(self.interval_seconds),
                "wideningSeconds": _r(self.widening_seconds),
                "samples": self.samples,
                "ignoredSamples": self.ignored_samples,
                "gaps": [{"start": _iso(a), "end": _iso(b)} for a, b in self.gaps],
                "outages": [o.to_json() for o in self.outages],
                "recoveredAt": _iso(self.recovered_at),
                "lastFailingAt": _iso(self.last_failing_at),
                "relapseAt": _iso(self.relapse_at),
                "outageStart": None
                if self.outage_start is None
                else {"after": _iso(self.outage_start[0]), "by": _iso(self.outage_start[1])},
                "fromOutageStart": None
                if self.from_outage_start is None
                else self.from_outage_start.to_json(),
                "timeToDetectSeconds": _r(self.time_to_detect_seconds),
                "timeToFailoverSeconds": _r(self.time_to_failover_seconds),
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RtoResult:
        d = data["details"]
        lower, upper = data.get("lowerSeconds"), data.get("upperSeconds")
        start = d.get("outageStart")
        fault_start = _ms(d["faultStart"])
        verdict_start = _ms(d["verdictStart"])
        assert fault_start is not None and verdict_start is not None
        return cls(
            outcome=RtoOutcome(data["outcome"]),
            status=Status(data["status"]),
            explanation=data["explanation"],
            bounds=None if lower is None else Bounds(lower=float(lower), upper=_opt(upper)),
            hold_seconds=float(d["holdSeconds"]),
            fault_start=fault_start,
            verdict_start=verdict_start,
            fault_requested=_ms(d.get("faultRequested")),
            interval_seconds=_opt(d.get("intervalSeconds")),
            widening_seconds=float(d.get("wideningSeconds") or 0.0),
            samples=int(d.get("samples") or 0),
            ignored_samples=int(d.get("ignoredSamples") or 0),
            gaps=tuple(
                (timebase.parse_iso(g["start"]), timebase.parse_iso(g["end"]))
                for g in d.get("gaps") or []
            ),
            outages=tuple(Outage.from_json(o) for o in d.get("outages") or []),
            recovered_at=_ms(d.get("recoveredAt")),
            last_failing_at=_ms(d.get("lastFailingAt")),
            relapse_at=_ms(d.get("relapseAt")),
            outage_start=None
            if not start
            else (timebase.parse_iso(start["after"]), timebase.parse_iso(start["by"])),
            from_outage_start=Bounds.from_json(d.get("fromOutageStart")),
            time_to_detect_seconds=_opt(d.get("timeToDetectSeconds")),
            time_to_failover_seconds=_opt(d.get("timeToFailoverSeconds")),
            objective_seconds=_opt(data.get("objectiveSeconds")),
            method=data.get("method", "sli-hold"),
        )


def _verdict_note(status: Status, bounds: Bounds, objective: float, interval: float | None) -> str:
    if status is Status.MET:
        return f"objective {objective:g}s met (even the upper bound {bounds.upper:.3g}s is within)"
    if status is Status.MISSED:
        return (
            f"objective {objective:g}s missed (even the lower bound {bounds.lower:.3g}s is beyond)"
        )
    advice = (
        f"; a finer scrape interval for the SLI (now {interval:g}s) narrows it" if interval else ""
    )
    if bounds.upper is None:
        return (
            f"objective {objective:g}s: not proven (recovery not seen; it took more than"
            f" {bounds.lower:.3g}s){advice}"
        )
    return (
        f"objective {objective:g}s lies inside {bounds.lower:.3g}–{bounds.upper:.3g}s:"
        f" {TOO_CLOSE}{advice}"
    )


@dataclass(frozen=True, kw_only=True)
class LagOutcome:
    """RPO by replication lag: the largest lag over [fault start - lookback, fault start]."""

    bounds: Bounds | None
    """The largest lag in the lookback lies in these bounds (seconds)."""
    at: Ms | None
    """When the largest sampled lag was seen."""
    lookback_seconds: float
    samples: int
    series: int
    ignored_samples: int = 0
    interval_seconds: float | None = None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lowerSeconds": None if self.bounds is None else _r(self.bounds.lower),
            "upperSeconds": None if self.bounds is None else _r(self.bounds.upper),
            "at": _iso(self.at),
            "lookbackSeconds": self.lookback_seconds,
            "samples": self.samples,
            "series": self.series,
            "ignoredSamples": self.ignored_samples,
            "intervalSeconds": _r(self.interval_seconds),
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LagOutcome:
        lower = data.get("lowerSeconds")
        return cls(
            bounds=None
            if lower is None
            else Bounds(lower=float(lower), upper=_opt(data.get("upperSeconds"))),
            at=_ms(data.get("at")),
            lookback_seconds=float(data["lookbackSeconds"]),
            samples=int(data["samples"]),
            series=int(data["series"]),
            ignored_samples=int(data.get("ignoredSamples") or 0),
            interval_seconds=_opt(data.get("intervalSeconds")),
            problem=data.get("problem"),
        )


@dataclass(frozen=True, kw_only=True)
class CanaryOutcome:
    """RPO by canary writes (docs/measurement.md, "the canary contract")."""

    lost_writes: int | None
    lost_is_lower_bound: bool = False
    """No acknowledged sample after the fault: acks in the last interval may be uncounted."""
    acknowledged: float | None = None
    acknowledged_at: Ms | None = None
    present: float | None = None
    """Highest contiguous sequence on the new primary (`present` form)."""
    missing: float | None = None
    """Acknowledged writes missing on the new primary (`missing` form)."""
    acknowledged_time: float | None = None
    present_time: float | None = None
    window_seconds: float | None = None
    """Writer's time of the last acknowledged write minus that of the last one present."""
    ignored_samples: int = 0
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lostWrites": self.lost_writes,
            "lostIsLowerBound": self.lost_is_lower_bound,
            "acknowledged": self.acknowledged,
            "acknowledgedAt": _iso(self.acknowledged_at),
            "present": self.present,
            "missing": self.missing,
            "acknowledgedTime": self.acknowledged_time,
            "presentTime": self.present_time,
            "windowSeconds": _r(self.window_seconds),
            "ignoredSamples": self.ignored_samples,
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CanaryOutcome:
        return cls(
            lost_writes=data.get("lostWrites"),
            lost_is_lower_bound=bool(data.get("lostIsLowerBound")),
            acknowledged=data.get("acknowledged"),
            acknowledged_at=_ms(data.get("acknowledgedAt")),
            present=data.get("present"),
            missing=data.get("missing"),
            acknowledged_time=data.get("acknowledgedTime"),
            present_time=data.get("presentTime"),
            window_seconds=data.get("windowSeconds"),
            ignored_samples=int(data.get("ignoredSamples") or 0),
            problem=data.get("problem"),
        )


@dataclass(frozen=True, kw_only=True)
class RpoResult:
    status: Status
    explanation: str
    bounds: Bounds | None
    """RPO in seconds: the larger of the lag and the canary time window, as bounds."""
    lag: LagOutcome | None = None
    canary: CanaryOutcome | None = None
    objective_seconds: float | None = None
    max_lost_writes: int | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.bounds is None else self.bounds.midpoint

    @property
    def uncertainty_seconds(self) -> float | None:
        return None if self.bounds is None else self.bounds.half_width

    @property
    def met(self) -> bool | None:
        return _MET.get(self.status)

    @property
    def method(self) -> str:
        return "+".join(n for n, m in (("lag", self.lag), ("canary", self.canary)) if m)

    def judged(self, objective_seconds: float | None, max_lost_writes: int | None) -> RpoResult:
        """Against the RPO objective and the allowed lost writes; met only if all are met."""
        base = replace(self, objective_seconds=objective_seconds, max_lost_writes=max_lost_writes)
        problems = [m.problem for m in (self.lag, self.canary) if m is not None and m.problem]
        verdicts: list[Status] = []
        notes: list[str] = []
        canary = self.canary
        lost = canary.lost_writes if canary is not None else None
        if max_lost_writes is not None:
            if lost is None:
                verdicts.append(Status.INCONCLUSIVE)
                if canary is None:
                    notes.append("maxLostWrites needs the canary method")
            elif lost > max_lost_writes:
                verdicts.append(Status.MISSED)
                notes.append(f"{lost} lost writes: at most {max_lost_writes} missed")
            elif canary is not None and canary.lost_is_lower_bound:
                verdicts.append(Status.INCONCLUSIVE)
                notes.append(
                    f"at least {lost} lost writes: at most {max_lost_writes} not proven"
                    " (no acknowledged sample after the fault)"
                )
            else:
                verdicts.append(Status.MET)
                notes.append(f"{lost} lost writes: at most {max_lost_writes} met")
        if objective_seconds is not None:
            if self.bounds is None:
                verdicts.append(Status.INCONCLUSIVE)
                if not problems:
                    notes.append("an RPO objective in seconds needs 'lag' or the canary times")
            else:
                status = self.bounds.judge(objective_seconds)
                if status is Status.MET and (lost or 0) > 0 and (self.bounds.upper or 0) <= 0:
                    status = Status.INCONCLUSIVE
                    notes.append(f"{lost} writes were lost but the lost time is 0: not proven")
                verdicts.append(status)
                notes.append(_rpo_note(status, self.bounds, objective_seconds))
        if problems and Status.MISSED not in verdicts:
            verdicts.append(Status.INCONCLUSIVE)
        if Status.MISSED in verdicts:
            status = Status.MISSED
        elif Status.INCONCLUSIVE in verdicts:
            status = Status.INCONCLUSIVE
        elif verdicts:
            status = Status.MET
        else:
            status = Status.NO_OBJECTIVE
        text = "; ".join([self.explanation, *problems, *notes]) if self.explanation else ""
        text = text or "; ".join([*problems, *notes])
        return replace(base, status=status, explanation=text)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": _r(self.seconds),
            "lowerSeconds": None if self.bounds is None else _r(self.bounds.lower),
            "upperSeconds": None if self.bounds is None else _r(self.bounds.upper),
            "objectiveSeconds": self.objective_seconds,
            "met": self.met,
            "status": self.status.value,
            "method": self.method,
            "uncertaintySeconds": _r(self.uncertainty_seconds),
            "explanation": self.explanation,
            "details": {
                "lag": self.lag.to_json() if self.lag else None,
                "canary": self.canary.to_json() if self.canary else None,
                "maxLostWrites": self.max_lost_writes,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RpoResult:
        d = data["details"]
        lower = data.get("lowerSeconds")
        return cls(
            status=Status(data["status"]),
            explanation=data["explanation"],
            bounds=None
            if lower is None
            else Bounds(lower=float(lower), upper=_opt(data.get("upperSeconds"))),
            lag=LagOutcome.from_json(d["lag"]) if d.get("lag") else None,
            canary=CanaryOutcome.from_json(d["canary"]) if d.get("canary") else None,
            objective_seconds=_opt(data.get("objectiveSeconds")),
            max_lost_writes=d.get("maxLostWrites"),
        )


def _rpo_note(status: Status, bounds: Bounds, objective: float) -> str:
    if status is Status.MET:
        return f"objective {objective:g}s met (upper bound {bounds.upper:.3g}s)"
    if status is Status.MISSED:
        return f"objective {objective:g}s missed (lower bound {bounds.lower:.3g}s)"
    upper = "unbounded" if bounds.upper is None else f"{bounds.upper:.3g}s"
    return (
        f"objective {objective:g}s lies inside {bounds.lower:.3g}s–{upper}: {TOO_CLOSE}"
        " (a finer scrape interval for the lag narrows it)"
    )
