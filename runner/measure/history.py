"""What a measured expression showed: its observations at their real sample times.

A `History` is one series of an expression as the measurement sees it: points
(millisecond sample time, finite value) in time order, the spans where the data was
missing or only filled in by Prometheus (`unknown`), and how many non-finite samples were
ignored. Everything downstream (RTO, RPO) reads histories, never a query grid.

Two ways to build one (see `runner.measure.reader` for the queries):

* `from_samples`: the raw samples of a plain selector, exactly as stored;
* `from_grid`: a compound expression evaluated on a step grid, each grid value placed at
  the time of the newest underlying sample it was computed from (`timestamp()` of every
  selector in the expression), and grid points computed from a sample older than two of
  that series' own intervals marked unknown (Prometheus repeats a sample for up to five
  minutes when no staleness marker ends it: federation, restarts, remote storage).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.measure.timebase import Ms

STALE_INTERVALS = 2
"""A sample older than this many of its series' own intervals no longer describes now."""

Point = tuple[Ms, float]
Span = tuple[Ms, Ms]
LabelKey = frozenset[tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class History:
    """One series of a measured expression: finite points, unknown spans, ignored samples."""

    labels: Mapping[str, str] = field(default_factory=dict)
    points: tuple[Point, ...] = ()
    unknown: tuple[Span, ...] = ()
    """Spans (start, end] in which the expression had no trustworthy value."""
    ignored: int = 0
    """Samples dropped because their value was NaN or ±Inf."""
    first_ignored: Ms | None = None
    earliest: tuple[Ms, ...] = ()
    """Per point, the oldest sample it was computed from (compound expressions: a value
    at t can rest on an older sample of another series); empty when that is the point."""

    def since(self, index: int) -> Ms:
        """The oldest sample time point `index` rests on."""
        return self.earliest[index] if self.earliest else self.points[index][0]

    def interval(self) -> Ms | None:
        """The series' own sample interval: the median spacing of its points (None if < 2)."""
        return spacing([t for t, _ in self.points])

    def holes(self, lo: Ms, hi: Ms) -> list[Span]:
        """Unknown spans overlapping [lo, hi]: explicit ones, and stretches between points
        (or after the last point, up to `hi`) longer than STALE_INTERVALS intervals."""
        found = [(a, b) for a, b in self.unknown if b > lo and a < hi]
        step = self.interval()
        if step is not None:
            limit = STALE_INTERVALS * step
            times = [t for t, _ in self.points if t <= hi]
            for a, b in itertools.pairwise(times):
                if b - a > limit and b > lo:
                    found.append((a, b))
            if times and hi - times[-1] > limit:
                found.append((times[-1], hi))
        return merge(found)

    def to_json(self) -> dict[str, Any]:
        """The stored form: times in unix seconds (3 decimals), as the report timeline reads."""
        return {
            "labels": dict(self.labels),
            "samples": [[t / 1000, v] for t, v in self.points],
            "unknown": [[a / 1000, b / 1000] for a, b in self.unknown],
            "ignored": self.ignored,
            "firstIgnored": None if self.first_ignored is None else self.first_ignored / 1000,
            "earliest": [t / 1000 for t in self.earliest],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> History:
        def ms(value: Any) -> Ms:
            return round(float(value) * 1000)

        points = tuple((ms(t), float(v)) for t, v in data.get("samples") or [])
        first = data.get("firstIgnored")
        earliest = tuple(ms(t) for t in data.get("earliest") or [])
        if any(not math.isfinite(v) for _, v in points):
            raise ValueError("a stored measurement sample is not a finite number")
        return cls(
            labels=dict(data.get("labels") or {}),
            points=points,
            earliest=earliest if len(earliest) == len(points) else (),
            unknown=tuple((ms(a), ms(b)) for a, b in data.get("unknown") or []),
            ignored=int(data.get("ignored") or 0),
            first_ignored=None if first is None else ms(first),
        )


def spacing(times: Sequence[Ms]) -> Ms | None:
    """The median positive difference between consecutive times (None if there is none)."""
    diffs = [b - a for a, b in itertools.pairwise(times) if b > a]
    return int(statistics.median_low(diffs)) if diffs else None


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans merged, in time order."""
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def from_samples(labels: Mapping[str, str], samples: Iterable[Point]) -> History:
    """A history from raw samples: time-ordered, one value per time, non-finite dropped."""
    by_time: dict[Ms, float] = {}
    for t, v in samples:
        by_time[t] = v
    points, ignored, first = [], 0, None
    for t in sorted(by_time):
        v = by_time[t]
        if math.isfinite(v):
            points.append((t, v))
        else:
            ignored += 1
            first = t if first is None else first
    return History(labels=dict(labels), points=tuple(points), ignored=ignored, first_ignored=first)


@dataclass(frozen=True, kw_only=True)
class GridSeries:
    """One series of a range-query answer on the measurement's grid."""

    labels: Mapping[str, str]
    values: Mapping[Ms, float]


def from_grid(
    outputs: Sequence[GridSeries],
    stamps: Sequence[Mapping[Ms, Ms]],
    *,
    step: Ms,
    sliding: bool,
) -> list[History]:
    """Histories of a compound expression from its grid values and its selectors' stamps.

    `stamps` holds, for every series under every selector of the expression, the time of
    the sample Prometheus used at each grid point (`timestamp(selector)`). A grid point is
    unknown when any of them is older than STALE_INTERVALS of that series' own interval.
    Otherwise its value is placed at the newest underlying sample time (the moment the
    expression took that value), or at the grid time itself when the expression slides
    over a range (`sliding`: `rate(...[1m])` changes as time passes, without new samples).
    Each point also keeps the oldest underlying sample it rests on (`History.earliest`).
    """
    grid = sorted({g for o in outputs for g in o.values} | {g for s in stamps for g in s})
    stamped = _Stamped.of(grid, stamps, step=step)
    return [_grid_history(out, grid, stamped, step=step, sliding=sliding) for out in outputs]


@dataclass(frozen=True)
class _Stamped:
    """Per grid point, from the selectors' sample times: stale or not, the newest and the
    oldest underlying sample."""

    stale: frozenset[Ms]
    newest: Mapping[Ms, Ms]
    oldest: Mapping[Ms, Ms]

    @classmethod
    def of(cls, grid: Sequence[Ms], stamps: Sequence[Mapping[Ms, Ms]], *, step: Ms) -> _Stamped:
        intervals = [spacing(sorted(set(s.values()))) or step for s in stamps]
        stale: set[Ms] = set()
        newest: dict[Ms, Ms] = {}
        oldest: dict[Ms, Ms] = {}
        for g in grid:
            seen = [(s[g], i) for s, i in zip(stamps, intervals, strict=True) if g in s]
            if any(g - t > STALE_INTERVALS * i for t, i in seen):
                stale.add(g)
            newest[g] = max(t for t, _ in seen) if seen else g
            oldest[g] = min(t for t, _ in seen) if seen else g
        return cls(stale=frozenset(stale), newest=newest, oldest=oldest)


def _grid_history(
    out: GridSeries, grid: Sequence[Ms], stamped: _Stamped, *, step: Ms, sliding: bool
) -> History:
    """One output series on the grid as a History (see `from_grid`)."""
    points: list[Point] = []
    earliest: list[Ms] = []
    unknown: list[Span] = []
    ignored, first = 0, None
    for g in grid:
        v = out.values.get(g)
        if v is not None and not math.isfinite(v):
            ignored += 1
            first = g if first is None else first
        if v is None or not math.isfinite(v) or g in stamped.stale:
            unknown.append((g - step, g))
            continue
        t = g if sliding else stamped.newest[g]
        if points and t <= points[-1][0]:
            if v == points[-1][1]:
                continue  # the same sample seen again at a later grid point
            t = g  # an underlying series went away: the new value is seen at g
        if points and t <= points[-1][0]:
            continue
        points.append((t, v))
        earliest.append(stamped.oldest[g])
    return History(
        labels=dict(out.labels),
        points=tuple(points),
        unknown=tuple(merge(unknown)),
        ignored=ignored,
        first_ignored=first,
        earliest=tuple(earliest),
    )
