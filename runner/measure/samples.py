"""Walking sampled series: instants, windows, gaps and runs of samples meeting a condition.

A range query evaluates its expression on a grid (start, start+step, ...). A "gap" is a
stretch of that grid with no value longer than two steps; the measurement rules treat
gaps as missing evidence, never as good news.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

GAP_STEPS = 2.0
"""A hole longer than this many steps between samples (or at a window's edge) is a gap."""
_EPS = 1e-6

Sample = tuple[float, float]


def unix(at: datetime) -> float:
    """Unix seconds of an aware datetime."""
    if at.tzinfo is None:
        raise ValueError("measurement times must be timezone-aware")
    return at.timestamp()


def instant(ts: float) -> datetime:
    """An aware UTC datetime from unix seconds (rounded to the millisecond)."""
    return datetime.fromtimestamp(round(ts, 3), tz=UTC)


def iso(ts: float | None) -> str | None:
    """ISO 8601 (UTC, `Z`) text for unix seconds, or None."""
    if ts is None:
        return None
    return instant(ts).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clock_text(ts: float) -> str:
    """A short UTC time of day for one-line explanations."""
    return instant(ts).strftime("%H:%M:%S") + "Z"


def within(samples: Sequence[Sample], lo: float, hi: float) -> list[Sample]:
    """The samples with lo <= t <= hi (a microsecond of slack for float noise)."""
    return [(t, v) for t, v in samples if lo - _EPS <= t <= hi + _EPS]


@dataclass(frozen=True, kw_only=True)
class Gap:
    """No value from `start` to `end` (unix seconds)."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def describe(self) -> str:
        return f"no data for {self.seconds:.0f}s from {clock_text(self.start)}"


def gaps(samples: Sequence[Sample], *, start: float, end: float, step: float) -> list[Gap]:
    """Holes longer than GAP_STEPS steps in [start, end], edges included."""
    limit = GAP_STEPS * step + _EPS
    if not samples:
        return [Gap(start=start, end=end)]
    found = []
    previous = start
    for t, _ in samples:
        if t - previous > limit:
            found.append(Gap(start=previous, end=t))
        previous = t
    if end - previous > limit:
        found.append(Gap(start=previous, end=end))
    return found


@dataclass(frozen=True, kw_only=True)
class Run:
    """Consecutive samples all meeting a condition, with no gap between them."""

    first: int
    """Index of the first sample of the run."""
    last: int
    """Index of the last sample of the run."""
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def runs(
    samples: Sequence[Sample], condition: Callable[[float], bool], *, step: float
) -> list[Run]:
    """Maximal runs of samples meeting `condition`, broken by other samples and by gaps."""
    limit = GAP_STEPS * step + _EPS
    found: list[Run] = []
    first: int | None = None
    for i, (t, v) in enumerate(samples):
        if first is not None and t - samples[i - 1][0] > limit:
            found.append(_run(samples, first, i - 1))
            first = None
        if condition(v):
            if first is None:
                first = i
        elif first is not None:
            found.append(_run(samples, first, i - 1))
            first = None
    if first is not None:
        found.append(_run(samples, first, len(samples) - 1))
    return found


def _run(samples: Sequence[Sample], first: int, last: int) -> Run:
    return Run(first=first, last=last, start=samples[first][0], end=samples[last][0])
