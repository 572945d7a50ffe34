"""RTO and RPO results: frozen values, their verdict against the objectives, and run.json form.

Both serialise to the same top-level keys (`seconds`, `objectiveSeconds`, `met`, `status`,
`method`, `uncertaintySeconds`, `explanation`, `details`). Measuring and judging are
separate steps: `compute_*` produce a result without objectives, `judged()` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from runner.measure import samples


class Status(StrEnum):
    MET = "met"
    MISSED = "missed"
    INCONCLUSIVE = "inconclusive"
    NO_OBJECTIVE = "no-objective"


_MET = {Status.MET: True, Status.MISSED: False}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else samples.iso(value.timestamp())


def _margin_note(seconds: float, objective: float, uncertainty: float) -> str:
    return (
        " (closer to the objective than the uncertainty)"
        if abs(seconds - objective) <= uncertainty
        else ""
    )


@dataclass(frozen=True, kw_only=True)
class Outage:
    """A run of failing SLI samples: first failing sample to first good one (raw sample times)."""

    start: datetime
    end: datetime | None
    """None if the SLI was still failing at the end of the window."""

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else (self.end - self.start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {"start": _iso(self.start), "end": _iso(self.end), "seconds": _r(self.seconds)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outage:
        start = _at(data["start"])
        assert start is not None
        return cls(start=start, end=_at(data["end"]))


@dataclass(frozen=True, kw_only=True)
class RtoResult:
    seconds: float | None
    status: Status
    explanation: str
    uncertainty_seconds: float
    hold_seconds: float
    step_seconds: float
    time_to_detect_seconds: float | None = None
    time_to_failover_seconds: float | None = None
    outages: tuple[Outage, ...] = ()
    recovered_at: datetime | None = None
    """The first sample of the SLI run that held (raw sample time)."""
    objective_seconds: float | None = None
    method: str = "sli-hold"

    @property
    def met(self) -> bool | None:
        return _MET.get(self.status)

    def judged(self, objective_seconds: float | None) -> RtoResult:
        """This result against an RTO objective (seconds <= objective is met)."""
        if self.status is Status.INCONCLUSIVE or self.seconds is None:
            return replace(self, objective_seconds=objective_seconds)
        if objective_seconds is None:
            return replace(self, objective_seconds=None, status=Status.NO_OBJECTIVE)
        met = self.seconds <= objective_seconds
        note = _margin_note(self.seconds, objective_seconds, self.uncertainty_seconds)
        verdict = "met" if met else "missed"
        return replace(
            self,
            objective_seconds=objective_seconds,
            status=Status.MET if met else Status.MISSED,
            explanation=f"{self.explanation}; objective {objective_seconds:g}s {verdict}{note}",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": _r(self.seconds),
            "objectiveSeconds": self.objective_seconds,
            "met": self.met,
            "status": self.status.value,
            "method": self.method,
            "uncertaintySeconds": _r(self.uncertainty_seconds),
            "explanation": self.explanation,
            "details": {
                "timeToDetectSeconds": _r(self.time_to_detect_seconds),
                "timeToFailoverSeconds": _r(self.time_to_failover_seconds),
                "outages": [o.to_json() for o in self.outages],
                "holdSeconds": self.hold_seconds,
                "stepSeconds": self.step_seconds,
                "recoveredAt": _iso(self.recovered_at),
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RtoResult:
        d = data["details"]
        return cls(
            seconds=data["seconds"],
            status=Status(data["status"]),
            explanation=data["explanation"],
            uncertainty_seconds=data["uncertaintySeconds"],
            hold_seconds=d["holdSeconds"],
            step_seconds=d["stepSeconds"],
            time_to_detect_seconds=d["timeToDetectSeconds"],
            time_to_failover_seconds=d["timeToFailoverSeconds"],
            outages=tuple(Outage.from_json(o) for o in d["outages"]),
            recovered_at=_at(d.get("recoveredAt")),
            objective_seconds=data["objectiveSeconds"],
            method=data["method"],
        )


@dataclass(frozen=True, kw_only=True)
class LagOutcome:
    """RPO by replication lag: the largest lag seen in the lookback before fault start."""

    seconds: float | None
    at: datetime | None
    lookback_seconds: float
    samples: int
    series: int
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": _r(self.seconds),
            "at": _iso(self.at),
            "lookbackSeconds": self.lookback_seconds,
            "samples": self.samples,
            "series": self.series,
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LagOutcome:
        return cls(
            seconds=data["seconds"],
            at=_at(data["at"]),
            lookback_seconds=data["lookbackSeconds"],
            samples=data["samples"],
            series=data["series"],
            problem=data["problem"],
        )


@dataclass(frozen=True, kw_only=True)
class CanaryOutcome:
    """RPO by canary writes: acknowledged before the fault vs present after failover."""

    lost_writes: int | None
    ack_seq: float | None
    present_seq: float | None
    window_seconds: float | None
    """Time RPO: last acknowledged write's time minus last present write's time."""
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lostWrites": self.lost_writes,
            "ackSeq": self.ack_seq,
            "presentSeq": self.present_seq,
            "windowSeconds": _r(self.window_seconds),
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CanaryOutcome:
        return cls(
            lost_writes=data["lostWrites"],
            ack_seq=data["ackSeq"],
            present_seq=data["presentSeq"],
            window_seconds=data["windowSeconds"],
            problem=data["problem"],
        )


@dataclass(frozen=True, kw_only=True)
class RpoResult:
    seconds: float | None
    status: Status
    explanation: str
    uncertainty_seconds: float
    step_seconds: float
    lag: LagOutcome | None = None
    canary: CanaryOutcome | None = None
    objective_seconds: float | None = None
    max_lost_writes: int | None = None

    @property
    def met(self) -> bool | None:
        return _MET.get(self.status)

    @property
    def method(self) -> str:
        return "+".join(n for n, m in (("lag", self.lag), ("canary", self.canary)) if m)

    def judged(self, objective_seconds: float | None, max_lost_writes: int | None) -> RpoResult:
        """This result against the RPO objective and the allowed number of lost writes."""
        base = replace(self, objective_seconds=objective_seconds, max_lost_writes=max_lost_writes)
        if self.status is Status.INCONCLUSIVE:
            return base
        verdicts: list[bool] = []
        notes: list[str] = []
        if objective_seconds is not None:
            if self.seconds is None:
                why = "an RPO objective in seconds needs 'lag' or the canary time queries"
                return replace(base, status=Status.INCONCLUSIVE, explanation=why)
            verdicts.append(self.seconds <= objective_seconds)
            note = _margin_note(self.seconds, objective_seconds, self.uncertainty_seconds)
            notes.append(f"objective {objective_seconds:g}s {_word(verdicts[-1])}{note}")
        if max_lost_writes is not None:
            lost = self.canary.lost_writes if self.canary else None
            if lost is None:
                why = "maxLostWrites needs the canary method"
                return replace(base, status=Status.INCONCLUSIVE, explanation=why)
            verdicts.append(lost <= max_lost_writes)
            notes.append(f"at most {max_lost_writes} lost writes {_word(verdicts[-1])}")
        if not verdicts:
            return replace(base, status=Status.NO_OBJECTIVE)
        return replace(
            base,
            status=Status.MET if all(verdicts) else Status.MISSED,
            explanation="; ".join([self.explanation, *notes]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": _r(self.seconds),
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
                "stepSeconds": self.step_seconds,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RpoResult:
        d = data["details"]
        return cls(
            seconds=data["seconds"],
            status=Status(data["status"]),
            explanation=data["explanation"],
            uncertainty_seconds=data["uncertaintySeconds"],
            step_seconds=d["stepSeconds"],
            lag=LagOutcome.from_json(d["lag"]) if d["lag"] else None,
            canary=CanaryOutcome.from_json(d["canary"]) if d["canary"] else None,
            objective_seconds=data["objectiveSeconds"],
            max_lost_writes=d["maxLostWrites"],
        )


def _word(ok: bool) -> str:
    return "met" if ok else "missed"
