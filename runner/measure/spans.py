"""RTO, RPO and timings between recorded instants: no Prometheus, only times the run and
the API objects wrote down (a restore's start and completion, a backup's completion, the
fault start).

Every instant is known to a resolution: a Kubernetes time without fractions
(`2025-01-31T09:00:05Z`, metav1.Time) names a whole second, so the true moment lies in
[09:00:05, 09:00:06); a time with n fractional digits is known to 10^-n s; an instant
given as a window (`{earliest, latest}`, a backup's snapshot point between its start and
its completion) lies anywhere in it. A span `to - from` therefore lies in
[to.earliest - from.latest, to.latest - from.earliest], and is judged on those bounds like
every measurement (`results.Bounds`): met only when even the upper bound is within.
Everything here is pure; the engine passes the instants it knows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from runner.measure.results import Bounds, Status

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Known:
    """An instant known to lie in [earliest, latest] (microseconds since the epoch)."""

    earliest: int
    latest: int
    text: str
    """How it was known, for the record (`captured.restore.completed = 2025-...Z`)."""


def parse_instant(name: str, value: str) -> Known:
    """An RFC 3339 time as the interval its digits say it is known to; ValueError (naming
    the value) when it is not a time."""
    m = _TIME.match(value.strip())
    if not m:
        raise ValueError(f"{name} = {value[:60]!r} is not an RFC 3339 time")
    whole, fraction, zone = m.groups()
    base = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    start = (base - _EPOCH) // _ONE_US
    digits = fraction or ""
    step = 10 ** (6 - min(len(digits), 6)) if len(digits) < 6 else 1
    start += int((digits + "000000")[:6]) if digits else 0
    return Known(earliest=start, latest=start + step, text=f"{name} = {value}")


_ONE_US = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def window(earliest: Known, latest: Known) -> Known:
    """An instant between two others (each with its own resolution)."""
    return Known(
        earliest=earliest.earliest,
        latest=latest.latest,
        text=f"between {earliest.text} and {latest.text}",
    )


@dataclass(frozen=True, kw_only=True)
class SpanResult:
    """A duration between two instants, as bounds, and its verdict against an objective."""

    name: str
    """rto, rpo, or a timing's name."""
    bounds: Bounds | None
    status: Status
    explanation: str
    start: str
    end: str
    objective_seconds: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.bounds is None else self.bounds.midpoint

    @property
    def uncertainty_seconds(self) -> float | None:
        return None if self.bounds is None else self.bounds.half_width

    @property
    def method(self) -> str:
        return "span"

    # a span has no SLI, lag or canary behind it: what an RTO/RPO result shows besides its
    # bounds is absent here (the reports read every RTO/RPO the same way)
    time_to_detect_seconds: None = field(default=None, init=False, repr=False)
    time_to_failover_seconds: None = field(default=None, init=False, repr=False)
    outages: tuple[()] = field(default=(), init=False, repr=False)
    canary: None = field(default=None, init=False, repr=False)
    max_lost_writes: None = field(default=None, init=False, repr=False)

    def judged(self, objective_seconds: float | None) -> SpanResult:
        base = replace(self, objective_seconds=objective_seconds)
        if self.bounds is None:
            return replace(base, status=Status.INCONCLUSIVE)
        if objective_seconds is None:
            return replace(base, status=Status.NO_OBJECTIVE)
        status = self.bounds.judge(objective_seconds)
        note = {
            Status.MET: f"objective {objective_seconds:g}s met (even the upper bound "
            f"{self.bounds.upper:.6g}s is within)",
            Status.MISSED: f"objective {objective_seconds:g}s missed (even the lower bound "
            f"{self.bounds.lower:.6g}s is beyond)",
        }.get(
            status,
            f"objective {objective_seconds:g}s lies inside {self.bounds.lower:.6g}–"
            f"{self.bounds.upper:.6g}s: too close to call at the resolution of these times",
        )
        return replace(base, status=status, explanation=f"{self.explanation}; {note}")

    def to_json(self) -> dict[str, Any]:
        b = self.bounds
        return {
            "seconds": _r(self.seconds),
            "lowerSeconds": None if b is None else _r(b.lower),
            "upperSeconds": None if b is None else _r(b.upper),
            "objectiveSeconds": self.objective_seconds,
            "met": {Status.MET: True, Status.MISSED: False}.get(self.status),
            "status": self.status.value,
            "method": "span",
            "uncertaintySeconds": None if b is None else _r(b.half_width),
            "explanation": self.explanation,
            "details": {"from": self.start, "to": self.end},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, name: str = "") -> SpanResult:
        lower, upper = data.get("lowerSeconds"), data.get("upperSeconds")
        details = data.get("details") or {}
        return cls(
            name=name,
            bounds=None
            if lower is None
            else Bounds(lower=float(lower), upper=None if upper is None else float(upper)),
            status=Status(data["status"]),
            explanation=str(data.get("explanation") or ""),
            start=str(details.get("from") or ""),
            end=str(details.get("to") or ""),
            objective_seconds=None
            if data.get("objectiveSeconds") is None
            else float(data["objectiveSeconds"]),
        )


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def measure(name: str, start: Known | str, end: Known | str) -> SpanResult:
    """`end - start` as bounds; a `str` instead of an instant says why it is unknown."""
    if isinstance(start, str) or isinstance(end, str):
        why = "; ".join(x for x in (start, end) if isinstance(x, str))
        return SpanResult(
            name=name,
            bounds=None,
            status=Status.INCONCLUSIVE,
            explanation=f"{name}: not measured: {why}",
            start=start if isinstance(start, str) else start.text,
            end=end if isinstance(end, str) else end.text,
        )
    lower = (end.earliest - start.latest) / _US
    upper = (end.latest - start.earliest) / _US
    if upper < 0:
        return SpanResult(
            name=name,
            bounds=None,
            status=Status.INCONCLUSIVE,
            explanation=f"{name}: the end ({end.text}) comes before the start ({start.text})",
            start=start.text,
            end=end.text,
        )
    bounds = Bounds(lower=max(0.0, lower), upper=upper)
    return SpanResult(
        name=name,
        bounds=bounds,
        status=Status.NO_OBJECTIVE,
        explanation=f"{name} {bounds.text()}: from {start.text} to {end.text}",
        start=start.text,
        end=end.text,
    )


RUN_RESOLUTION_US = 1000
"""The run's own times (fault start, step starts and ends) are known to the millisecond."""


def instant(
    written: str, times: Mapping[str, datetime | str], *, missing: str = "was not recorded"
) -> Known | str:
    """The instant named `written` (`faultStart`, `captured.x`, `steps.y.finished`) from
    the times the run recorded, or why it is unknown. The run's own moments are datetimes,
    known to the millisecond; captured values are text, parsed with the resolution their
    digits show (why not, naming the value, when the text is not a time)."""
    value = times.get(written)
    if value is None:
        return f"{written} {missing}"
    if isinstance(value, datetime):
        return run_instant(written, value)
    try:
        return parse_instant(written, value)
    except ValueError as e:
        return str(e)


def run_instant(name: str, t: datetime) -> Known:
    """One of the run's own moments (an aware datetime), known to the millisecond."""
    if t.tzinfo is None:
        raise ValueError(f"{name} = {t.isoformat()} has no time zone")
    start = (t - _EPOCH) // _ONE_US
    return Known(earliest=start, latest=start + RUN_RESOLUTION_US, text=f"{name} = {t.isoformat()}")
