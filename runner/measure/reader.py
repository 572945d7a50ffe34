"""Reading one measured expression from Prometheus, incrementally: the I/O of measurement.

A `Reader` keeps what it has read and, on each `advance(hi)`, fetches only what is new:
the span since its last read, less a settle margin re-read for samples that arrive late
(a scrape is stored after its timestamp; federation and remote storage later still). So
a verification polled every few seconds costs a constant number of constant-size
requests per poll, however long the recovery takes, and a one-shot read of the same
window gives the same data.

* A plain selector is read as raw samples (`selector[range]`): exact sample times, no
  value repeated into a gap.
* A compound expression is evaluated on a grid anchored at whole multiples of the step
  (so every read lands on the same grid points), with `timestamp()` of each selector it
  reads, from which `history.from_grid` places each value at its real sample time and
  marks filled-in values unknown.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from runner.measure import history, timebase
from runner.measure.history import GridSeries, History, LabelKey
from runner.measure.timebase import Ms
from runner.prom import PrometheusClient, Series
from runner.scenario.promql import Shape, shape

SETTLE: Ms = 30_000
"""Each read goes back this far over what was read before, for late-arriving samples."""


class _Timed:
    """Values by time with a sorted index, so reads of a recent span cost only that span."""

    def __init__(self) -> None:
        self.values: dict[Ms, float] = {}
        self.order: list[Ms] = []

    def replace(self, lo: Ms, hi: Ms, fresh: dict[Ms, float]) -> None:
        """Drop what was held in [lo, hi] and put `fresh` (all inside it) in its place."""
        i, j = bisect.bisect_left(self.order, lo), bisect.bisect_right(self.order, hi)
        for t in self.order[i:j]:
            del self.values[t]
        self.order[i:j] = sorted(fresh)
        self.values.update(fresh)

    def span(self, lo: Ms, hi: Ms) -> list[tuple[Ms, float]]:
        i, j = bisect.bisect_left(self.order, lo), bisect.bisect_right(self.order, hi)
        return [(t, self.values[t]) for t in self.order[i:j]]


class Reader:
    """One expression, read from `start` on, one `advance` at a time."""

    def __init__(self, prom: PrometheusClient, expr: str, *, start: Ms, step: Ms) -> None:
        self.prom = prom
        self.expr = expr
        self.shape: Shape = shape(expr)
        self.start = start
        self.step = max(1, step)
        self.read_to: Ms | None = None
        self._series: dict[LabelKey, tuple[dict[str, str], _Timed]] = {}
        """Raw samples (plain selector) or grid values (compound), per output series."""
        self._stamps: dict[tuple[int, LabelKey], tuple[dict[str, str], _Timed]] = {}
        """Compound: per selector and series, the sample time behind each grid point."""

    @property
    def mode(self) -> str:
        return "raw" if self.shape.selector else "grid"

    def advance(self, hi: Ms) -> None:
        """Read what is new up to `hi` (and the settle margin before it again)."""
        lo = self.start if self.read_to is None else max(self.start, self.read_to - SETTLE)
        if hi < lo:
            return
        if self.shape.selector:
            self._read_raw(lo, hi)
        else:
            self._read_grid(lo, hi)
        self.read_to = hi if self.read_to is None else max(self.read_to, hi)

    def histories(self, until: Ms | None = None, *, since: Ms | None = None) -> list[History]:
        """What has been read in [since, until] (default: everything), as histories (see
        `runner.measure.history`). Data read past `until` is left out, so a reader that
        was polled beyond a window end gives what a read of exactly that window gives; a
        recent span costs only that span."""
        end = until if until is not None else (self.read_to or self.start)
        first = self.start if since is None else max(self.start, since)
        if self.shape.selector:
            found = [(labels, timed.span(first, end)) for labels, timed in self._series.values()]
            return [history.from_samples(labels, points) for labels, points in found if points]
        outputs = [
            GridSeries(labels=labels, values=dict(points))
            for labels, timed in self._series.values()
            if (points := timed.span(first, end))
        ]
        stamps = [
            {g: round(t) for g, t in timed.span(first, end)} for _, timed in self._stamps.values()
        ]
        return history.from_grid(outputs, stamps, step=self.step, sliding=self.shape.range_ms > 0)

    def latest(self) -> float | None:
        """The last value read of the only series (None when there is not exactly one)."""
        if len(self._series) != 1:
            return None
        ((_, timed),) = self._series.values()
        return timed.values[timed.order[-1]] if timed.order else None

    def _read_raw(self, lo: Ms, hi: Ms) -> None:
        answer = self.prom.query_raw(self.expr, timebase.at(lo), timebase.at(hi))
        self._store(self._series, lo, hi, {_key(s): s for s in answer}, lambda v: v)

    def _read_grid(self, lo: Ms, hi: Ms) -> None:
        first = -(-lo // self.step) * self.step
        last = hi // self.step * self.step
        if last < first:
            return
        start, end, step = timebase.at(first), timebase.at(last), self.step / 1000
        outputs = self.prom.query_range(self.expr, start, end, step)
        stamps = [
            self.prom.query_range(f"timestamp({selector})", start, end, step)
            for selector in self.shape.selectors
        ]
        self._store(self._series, first, last, {_key(s): s for s in outputs}, lambda v: v)
        by_selector = {(i, _key(s)): s for i, answer in enumerate(stamps) for s in answer}
        self._store(self._stamps, first, last, by_selector, timebase.from_seconds)

    @staticmethod
    def _store(
        held: dict[Any, tuple[dict[str, str], _Timed]],
        lo: Ms,
        hi: Ms,
        answer: dict[Any, Series],
        value: Callable[[float], float],
    ) -> None:
        """Replace what `held` had in [lo, hi] by this answer, series by series."""
        for key in set(held) | set(answer):
            s = answer.get(key)
            fresh = {} if s is None else {timebase.from_seconds(t): value(v) for t, v in s.samples}
            if key not in held:
                held[key] = ({} if s is None else dict(s.labels), _Timed())
            held[key][1].replace(lo, hi, fresh)


def _key(s: Series) -> LabelKey:
    return frozenset(s.labels.items())
