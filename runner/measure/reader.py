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

from runner.measure import history, timebase
from runner.measure.history import GridSeries, History, LabelKey
from runner.measure.timebase import Ms
from runner.prom import PrometheusClient, Series
from runner.scenario.promql import Shape, shape

SETTLE: Ms = 30_000
"""Each read goes back this far over what was read before, for late-arriving samples."""


class Reader:
    """One expression, read from `start` on, one `advance` at a time."""

    def __init__(self, prom: PrometheusClient, expr: str, *, start: Ms, step: Ms) -> None:
        self.prom = prom
        self.expr = expr
        self.shape: Shape = shape(expr)
        self.start = start
        self.step = max(1, step)
        self.read_to: Ms | None = None
        self._raw: dict[LabelKey, tuple[dict[str, str], dict[Ms, float]]] = {}
        self._grid: dict[LabelKey, tuple[dict[str, str], dict[Ms, float]]] = {}
        self._stamps: dict[tuple[int, LabelKey], dict[Ms, Ms]] = {}

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

    def histories(self, until: Ms | None = None) -> list[History]:
        """What has been read up to `until` (default: all), as histories (see
        `runner.measure.history`). Data read past `until` is left out, so a reader that
        was polled beyond a window end gives what a read of exactly that window gives."""
        end = until if until is not None else (self.read_to or self.start)
        if self.shape.selector:
            return [
                history.from_samples(labels, sorted(p for p in points.items() if p[0] <= end))
                for labels, points in self._raw.values()
                if any(t <= end for t in points)
            ]
        outputs = [
            GridSeries(labels=lab, values={g: v for g, v in values.items() if g <= end})
            for lab, values in self._grid.values()
            if any(g <= end for g in values)
        ]
        return history.from_grid(
            outputs,
            [{g: t for g, t in found.items() if g <= end} for found in self._stamps.values()],
            step=self.step,
            sliding=self.shape.range_ms > 0,
        )

    def _read_raw(self, lo: Ms, hi: Ms) -> None:
        answer = self.prom.query_raw(self.expr, timebase.at(lo), timebase.at(hi))
        for _, points in self._raw.values():
            _drop(points, lo, hi)
        for s in answer:
            kept = self._raw.setdefault(_key(s), (dict(s.labels), {}))[1]
            for t, v in s.samples:
                kept[timebase.from_seconds(t)] = v

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
        for _, values in self._grid.values():
            _drop(values, first, last)
        for found in self._stamps.values():
            _drop(found, first, last)
        for s in outputs:
            values = self._grid.setdefault(_key(s), (dict(s.labels), {}))[1]
            for t, v in s.samples:
                values[timebase.from_seconds(t)] = v
        for i, answer in enumerate(stamps):
            for s in answer:
                found = self._stamps.setdefault((i, _key(s)), {})
                for t, v in s.samples:
                    found[timebase.from_seconds(t)] = timebase.from_seconds(v)


def _key(s: Series) -> LabelKey:
    return frozenset(s.labels.items())


def _drop(values: dict[Ms, float] | dict[Ms, Ms], first: Ms, last: Ms) -> None:
    for t in [t for t in values if first <= t <= last]:
        del values[t]
