"""RTO from an SLI history: from the fault until the outage it caused ended for good.

Pure: it reads a `History` (real sample times, unknown spans). Definitions (see
docs/measurement.md):

* a sample is *healthy* when `upWhen` holds for it; the SLI's state between two samples is
  unknown when they are more than two of the SLI's own intervals apart, or when the data
  there was missing or filled in;
* the **final healthy run** is the run of healthy samples, with nothing unknown between
  them, that reaches the end of the window; recovery is proven when it lasts `hold`;
* the recovery lies in (last failing sample before that run, first sample of the run]:
  the RTO is that interval, measured from the fault start (or from the fault request,
  when the SLI was already failing at the fault start because of it); ranges in the SLI
  and `sliWindow` widen the lower end, since a failing value may describe an earlier time;
* a healthy run of at least `hold` after the outage began, followed by another failing
  sample, is a **relapse** (a miss); no failing sample and nothing unknown after the
  fault is its own outcome, **never failed**.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.measure import timebase
from runner.measure.history import History, Span
from runner.measure.results import Bounds, Outage, RtoOutcome, RtoResult, Status
from runner.measure.timebase import Ms
from runner.scenario.values import Expectation


def compute_rto(
    sli: Sequence[History],
    *,
    up_when: Expectation,
    hold: Ms,
    fault_start: Ms,
    window_end: Ms,
    fault_requested: Ms | None = None,
    failover_done: Ms | None = None,
    widening: Ms = 0,
) -> RtoResult:
    """Measure RTO (not yet judged against an objective: see `RtoResult.judged`)."""
    f, w = fault_start, window_end
    base = RtoResult(
        outcome=RtoOutcome.NO_DATA,
        status=Status.INCONCLUSIVE,
        explanation="",
        bounds=None,
        hold_seconds=hold / 1000,
        fault_start=f,
        verdict_start=f,
        fault_requested=fault_requested,
        widening_seconds=widening / 1000,
        time_to_failover_seconds=None if failover_done is None else (failover_done - f) / 1000,
    )
    if not sli:
        return _replace(base, explanation="the SLI query returned no data")
    if len(sli) > 1:
        return _replace(
            base,
            explanation=f"the SLI query returned {len(sli)} series; aggregate it to one"
            " (for example min(...) or sum(...))",
        )
    history = sli[0]
    points = [p for p in history.points if p[0] <= w]
    interval = history.interval()
    base = _replace(
        base,
        interval_seconds=None if interval is None else interval / 1000,
        samples=sum(1 for t, _ in points if t >= f),
        ignored_samples=history.ignored,
    )
    if interval is None or not any(t >= f for t, _ in points):
        why = "the SLI has too few samples after the fault start to measure anything"
        if history.ignored:
            why += f" ({history.ignored} non-finite samples ignored)"
        return _replace(base, explanation=why)
    walk = _Walk.of(history, points, up_when, f, w, interval)
    base = _replace(
        base,
        gaps=walk.gaps,
        outages=_outages(points, up_when, f, walk.i0),
        time_to_detect_seconds=None if not walk.bad else max(0, walk.at(walk.bad[0]) - f) / 1000,
    )
    base = _outage_under_way(base, walk, points, up_when, fault_requested)
    return _outcome(base, walk, up_when=up_when, hold=hold, widening=widening, window_end=w)


@dataclass(frozen=True)
class _Walk:
    """The samples from the one describing the state at the fault start to the window's
    end, read against `upWhen`: which fail, where the state is unknown, the healthy runs."""

    history: History
    i0: int
    """Index, in the history's points, of the walk's first sample."""
    seq: Sequence[tuple[Ms, float]]
    bad: Sequence[int]
    """Indices (in `seq`) of the failing samples."""
    runs: Sequence[tuple[int, int]]
    """(first, last) index of each run of healthy samples with nothing unknown inside."""
    start_unknown: bool
    hole_before: Sequence[bool]
    tail_unknown: bool
    gaps: tuple[Span, ...]

    @classmethod
    def of(
        cls,
        history: History,
        points: Sequence[tuple[Ms, float]],
        up_when: Expectation,
        f: Ms,
        w: Ms,
        interval: Ms,
    ) -> _Walk:
        holes = history.holes(f, w)
        first = next((i for i, (t, _) in enumerate(points) if t > f), len(points))
        i0 = first - 1 if first > 0 else 0  # the sample describing the state at F (if any)
        seq = points[i0:]
        good = [up_when.holds(v) for _, v in seq]

        def hole_between(a: Ms, b: Ms) -> bool:
            return any(x < b and y > a for x, y in holes)

        hole_before = [False] + [hole_between(seq[j - 1][0], seq[j][0]) for j in range(1, len(seq))]
        runs: list[tuple[int, int]] = []
        for j, ok in enumerate(good):
            if ok and runs and runs[-1][1] == j - 1 and not hole_before[j]:
                runs[-1] = (runs[-1][0], j)
            elif ok:
                runs.append((j, j))
        return cls(
            history=history,
            i0=i0,
            seq=seq,
            bad=[j for j, ok in enumerate(good) if not ok],
            runs=runs,
            start_unknown=seq[0][0] > f
            or hole_between(seq[0][0], seq[1][0] if len(seq) > 1 else w),
            hole_before=hole_before,
            tail_unknown=hole_between(seq[-1][0], w + 1) or w - seq[-1][0] > 2 * interval,
            gaps=tuple((max(a, f), min(b, w)) for a, b in holes if b > f and a < w),
        )

    def at(self, j: int) -> Ms:
        """The time of sample `j`."""
        return self.seq[j][0]

    @property
    def anything_unknown(self) -> bool:
        return self.start_unknown or any(self.hole_before) or self.tail_unknown

    def final_run(self) -> tuple[int, int] | None:
        """The healthy run that reaches the end of the window, if nothing unknown follows."""
        runs = self.runs
        last = len(self.seq) - 1
        return runs[-1] if runs and runs[-1][1] == last and not self.tail_unknown else None

    def relapse(self, hold: Ms) -> Ms | None:
        """The first failing sample after a healthy run of at least `hold` that followed
        the outage's start."""
        if not self.bad:
            return None
        for a, b in self.runs:
            if a > self.bad[0] and self.at(b) - self.at(a) >= hold:
                later = [j for j in self.bad if j > b]
                if later:
                    return self.at(later[0])
        return None

    def lower_from(self, before: int | None, *, widening: Ms, verdict_start: Ms) -> float:
        """Seconds from the verdict start to the latest proven-failing moment: the oldest
        sample the last failing value rests on, less the SLI's own look-back."""
        if before is None:
            return 0.0
        return max(0, self.history.since(self.i0 + before) - widening - verdict_start) / 1000


def _outage_under_way(
    base: RtoResult,
    walk: _Walk,
    points: Sequence[tuple[Ms, float]],
    up_when: Expectation,
    fault_requested: Ms | None,
) -> RtoResult:
    """The outage already under way at F (6d): when did users start to see it? It moves
    the verdict start back to it when it began after the fault was requested."""
    f = base.fault_start
    if not (walk.bad and walk.bad[0] == 0 and walk.at(0) <= f):
        return base
    began = _outage_began(list(points), up_when, walk.i0, walk.history)
    verdict_start = f
    if fault_requested is not None and began[0] >= fault_requested:
        verdict_start = min(f, began[0])
    return _replace(base, outage_start=began, verdict_start=verdict_start)


def _outcome(
    base: RtoResult, walk: _Walk, *, up_when: Expectation, hold: Ms, widening: Ms, window_end: Ms
) -> RtoResult:
    """Never failed, recovered (or relapsed after a recovery) or not recovered."""
    final = walk.final_run()
    relapse = walk.relapse(hold)
    if not walk.bad and not walk.anything_unknown:
        return _replace(
            base,
            outcome=RtoOutcome.NEVER_FAILED,
            status=Status.NO_OBJECTIVE,
            bounds=Bounds(lower=0.0, upper=0.0),
            explanation=f"THE SLI NEVER FAILED after the fault ({len(walk.seq)} samples, none"
            f" failing '{up_when.text}', no gap): the fault did not bite, or the SLI cannot"
            " see it; RTO 0s",
        )
    if final is not None and walk.at(final[1]) - walk.at(final[0]) >= hold:
        return _recovered(base, walk, final, relapse, up_when=up_when, hold=hold, widening=widening)
    return _not_recovered(
        base, walk, relapse, up_when=up_when, hold=hold, widening=widening, window_end=window_end
    )


def _recovered(
    base: RtoResult,
    walk: _Walk,
    final: tuple[int, int],
    relapse: Ms | None,
    *,
    up_when: Expectation,
    hold: Ms,
    widening: Ms,
) -> RtoResult:
    """The final healthy run held: the RTO lies between the last failing sample before it
    and its first sample (relapsed if it had recovered and failed again before)."""
    k = final[0]
    last_bad = max((j for j in walk.bad if j < k), default=None)
    upper = max(0, walk.at(k) - base.verdict_start) / 1000
    lower = walk.lower_from(last_bad, widening=widening, verdict_start=base.verdict_start)
    bounds = Bounds(lower=min(lower, upper), upper=upper)
    recovered = _replace(
        base,
        bounds=bounds,
        recovered_at=walk.at(k),
        last_failing_at=None if last_bad is None else walk.at(last_bad),
        from_outage_start=_from_outage_start(
            base.outage_start, list(walk.seq), last_bad, k, widening
        ),
    )
    if relapse is not None:
        return _replace(
            recovered,
            outcome=RtoOutcome.RELAPSED,
            status=Status.NO_OBJECTIVE,
            relapse_at=relapse,
            explanation=f"the SLI recovered, then FAILED AGAIN at"
            f" {timebase.clock(relapse)}; it met '{up_when.text}' for good from"
            f" {timebase.clock(walk.at(k))}: RTO {bounds.text()}",
        )
    seen = (
        f"last failing sample at {timebase.clock(walk.at(last_bad))}"
        if last_bad is not None
        else "no failing sample seen, but the data has gaps where an outage could hide"
    )
    return _replace(
        recovered,
        outcome=RtoOutcome.RECOVERED,
        status=Status.NO_OBJECTIVE,
        explanation=f"the SLI met '{up_when.text}' from {timebase.clock(walk.at(k))} to"
        f" the end ({(walk.at(final[1]) - walk.at(k)) / 1000:g}s, hold"
        f" {hold / 1000:g}s); {seen}: RTO {bounds.text()}" + _gap_note(walk.gaps),
    )


def _not_recovered(
    base: RtoResult,
    walk: _Walk,
    relapse: Ms | None,
    *,
    up_when: Expectation,
    hold: Ms,
    widening: Ms,
    window_end: Ms,
) -> RtoResult:
    """No healthy run held to the end of the window: the RTO is at least the time to the
    last failing sample, with no upper bound."""
    last_bad = walk.bad[-1] if walk.bad else None
    why = (
        "the SLI has no data at the end of the window"
        if walk.tail_unknown
        else f"the SLI did not meet '{up_when.text}' for {hold / 1000:g}s by the end of the window"
    )
    lower = walk.lower_from(last_bad, widening=widening, verdict_start=base.verdict_start)
    return _replace(
        base,
        outcome=RtoOutcome.RELAPSED if relapse is not None else RtoOutcome.NOT_RECOVERED,
        status=Status.NO_OBJECTIVE,
        relapse_at=relapse,
        bounds=Bounds(lower=lower, upper=None),
        last_failing_at=None if last_bad is None else walk.at(last_bad),
        explanation=f"not recovered: {why} ({(window_end - base.fault_start) / 1000:g}s after"
        " the fault start)"
        + (
            ""
            if relapse is None
            else f"; it had recovered, then failed again at {timebase.clock(relapse)}"
        )
        + _gap_note(walk.gaps),
    )


def _replace(result: RtoResult, **changes: object) -> RtoResult:
    from dataclasses import replace

    return replace(result, **changes)  # type: ignore[arg-type]


def _gap_note(gaps: tuple[Span, ...]) -> str:
    if not gaps:
        return ""
    total = sum(b - a for a, b in gaps) / 1000
    a, b = gaps[0]
    return (
        f"; {len(gaps)} gap(s) without trustworthy data ({total:g}s, first"
        f" {timebase.clock(a)}–{timebase.clock(b)})"
    )


def _outage_began(
    points: list[tuple[Ms, float]], up_when: Expectation, i0: int, history: History
) -> tuple[Ms, Ms]:
    """(after, by): the outage under way at F began after `after` and by `by`."""
    after, by = _began(points, up_when, i0, history)
    return (by if after is None else after), by


def _began(
    points: Sequence[tuple[Ms, float]], up_when: Expectation, k: int, history: History
) -> tuple[Ms | None, Ms]:
    """(last healthy sample, first failing sample) of the failing run that holds sample `k`;
    the healthy one None when no sample precedes the run or the data between is unknown."""
    while k > 0 and not up_when.holds(points[k - 1][1]):
        k -= 1
    failing = points[k][0]
    if k == 0:
        return None, failing
    healthy = points[k - 1][0]
    if any(a < failing and b > healthy for a, b in history.holes(healthy, failing)):
        return None, failing
    return healthy, failing


def _from_outage_start(
    began: tuple[Ms, Ms] | None,
    seq: list[tuple[Ms, float]],
    last_bad: int | None,
    k: int,
    widening: Ms,
) -> Bounds | None:
    if began is None:
        return None
    lower = 0 if last_bad is None else max(0, seq[last_bad][0] - widening - began[1])
    upper = max(0, seq[k][0] - began[0])
    return Bounds(lower=min(lower, upper) / 1000, upper=upper / 1000)


def _outages(
    points: list[tuple[Ms, float]], up_when: Expectation, f: Ms, i0: int
) -> tuple[Outage, ...]:
    """Runs of failing samples from the state at F on, each ending at the next healthy one."""
    found: list[Outage] = []
    start: Ms | None = None
    for t, v in points[i0:]:
        if not up_when.holds(v):
            start = t if start is None else start
        elif start is not None:
            found.append(Outage(start=start, end=t))
            start = None
    if start is not None:
        found.append(Outage(start=start, end=None))
    return tuple(found)


def detection(
    sli: Sequence[History], *, up_when: Expectation, fault_start: Ms
) -> tuple[Ms | None, Ms] | None:
    """When the SLI first showed the outage: (its last healthy sample, its first failing
    sample), raw sample times. The failing sample is the first one from the sample that
    describes the state at the fault start on (an outage that began before the injection
    was confirmed is traced back to its first failing sample). The last healthy sample is
    None when none precedes it or the data between them is unknown; None when one series
    shows no failing sample (or there is not exactly one series)."""
    if len(sli) != 1:
        return None
    history = sli[0]
    points = history.points
    first = next((i for i, (t, _) in enumerate(points) if t > fault_start), len(points))
    k = next(
        (i for i in range(max(first - 1, 0), len(points)) if not up_when.holds(points[i][1])),
        None,
    )
    if k is None:
        return None
    return _began(points, up_when, k, history)
