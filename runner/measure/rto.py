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

    def no_data(why: str) -> RtoResult:
        return _replace(base, explanation=why)

    if not sli:
        return no_data("the SLI query returned no data")
    if len(sli) > 1:
        return no_data(
            f"the SLI query returned {len(sli)} series; aggregate it to one"
            " (for example min(...) or sum(...))"
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

    holes = history.holes(f, w)
    gaps = tuple((max(a, f), min(b, w)) for a, b in holes if b > f and a < w)
    first = next((i for i, (t, _) in enumerate(points) if t > f), len(points))
    i0 = first - 1 if first > 0 else 0  # the sample describing the state at F (if any)
    seq = points[i0:]
    good = [up_when.holds(v) for _, v in seq]

    def hole_between(a: Ms, b: Ms) -> bool:
        return any(x < b and y > a for x, y in holes)

    start_unknown = seq[0][0] > f or hole_between(seq[0][0], seq[1][0] if len(seq) > 1 else w)
    hole_before = [False] + [hole_between(seq[j - 1][0], seq[j][0]) for j in range(1, len(seq))]
    tail_unknown = hole_between(seq[-1][0], w + 1) or w - seq[-1][0] > 2 * interval
    bad = [j for j, ok in enumerate(good) if not ok]
    base = _replace(
        base,
        gaps=gaps,
        outages=_outages(points, up_when, f, i0),
        time_to_detect_seconds=None if not bad else max(0, seq[bad[0]][0] - f) / 1000,
    )

    # the outage already under way at F (6d): when did users start to see it?
    verdict_start = f
    if bad and bad[0] == 0 and seq[0][0] <= f:
        began = _outage_began(points, up_when, i0, history)
        base = _replace(base, outage_start=began)
        if fault_requested is not None and began[0] >= fault_requested:
            verdict_start = min(f, began[0])
        base = _replace(base, verdict_start=verdict_start)

    # runs of healthy samples with nothing unknown inside
    runs: list[tuple[int, int]] = []
    for j, ok in enumerate(good):
        if ok and runs and runs[-1][1] == j - 1 and not hole_before[j]:
            runs[-1] = (runs[-1][0], j)
        elif ok:
            runs.append((j, j))
    final = runs[-1] if runs and runs[-1][1] == len(seq) - 1 and not tail_unknown else None
    held = final is not None and seq[final[1]][0] - seq[final[0]][0] >= hold
    relapse = None
    if bad:
        for a, b in runs:
            if a > bad[0] and seq[b][0] - seq[a][0] >= hold:
                later = [j for j in bad if j > b]
                if later:
                    relapse = seq[later[0]][0]
                    break

    def lower_from(before: int | None) -> float:
        """Seconds from the verdict start to the latest proven-failing moment: the oldest
        sample the last failing value rests on, less the SLI's own look-back."""
        if before is None:
            return 0.0
        return max(0, history.since(i0 + before) - widening - verdict_start) / 1000

    anything_unknown = start_unknown or any(hole_before) or tail_unknown
    if not bad and not anything_unknown:
        return _replace(
            base,
            outcome=RtoOutcome.NEVER_FAILED,
            status=Status.NO_OBJECTIVE,
            bounds=Bounds(lower=0.0, upper=0.0),
            explanation=f"THE SLI NEVER FAILED after the fault ({len(seq)} samples, none"
            f" failing '{up_when.text}', no gap): the fault did not bite, or the SLI cannot"
            " see it; RTO 0s",
        )
    if held and final is not None:
        k = final[0]
        last_bad = max((j for j in bad if j < k), default=None)
        upper = max(0, seq[k][0] - verdict_start) / 1000
        bounds = Bounds(lower=min(lower_from(last_bad), upper), upper=upper)
        recovered = _replace(
            base,
            bounds=bounds,
            recovered_at=seq[k][0],
            last_failing_at=None if last_bad is None else seq[last_bad][0],
            from_outage_start=_from_outage_start(base.outage_start, seq, last_bad, k, widening),
        )
        if relapse is not None:
            return _replace(
                recovered,
                outcome=RtoOutcome.RELAPSED,
                status=Status.NO_OBJECTIVE,
                relapse_at=relapse,
                explanation=f"the SLI recovered, then FAILED AGAIN at"
                f" {timebase.clock(relapse)}; it met '{up_when.text}' for good from"
                f" {timebase.clock(seq[k][0])}: RTO {bounds.text()}",
            )
        seen = (
            f"last failing sample at {timebase.clock(seq[last_bad][0])}"
            if last_bad is not None
            else "no failing sample seen, but the data has gaps where an outage could hide"
        )
        return _replace(
            recovered,
            outcome=RtoOutcome.RECOVERED,
            status=Status.NO_OBJECTIVE,
            explanation=f"the SLI met '{up_when.text}' from {timebase.clock(seq[k][0])} to"
            f" the end ({(seq[final[1]][0] - seq[k][0]) / 1000:g}s, hold"
            f" {hold / 1000:g}s); {seen}: RTO {bounds.text()}" + _gap_note(gaps),
        )
    last_bad = bad[-1] if bad else None
    why = (
        "the SLI has no data at the end of the window"
        if tail_unknown
        else f"the SLI did not meet '{up_when.text}' for {hold / 1000:g}s by the end of the window"
    )
    return _replace(
        base,
        outcome=RtoOutcome.RELAPSED if relapse is not None else RtoOutcome.NOT_RECOVERED,
        status=Status.NO_OBJECTIVE,
        relapse_at=relapse,
        bounds=Bounds(lower=lower_from(last_bad), upper=None),
        last_failing_at=None if last_bad is None else seq[last_bad][0],
        explanation=f"not recovered: {why} ({(w - f) / 1000:g}s after the fault start)"
        + (
            ""
            if relapse is None
            else f"; it had recovered, then failed again at {timebase.clock(relapse)}"
        )
        + _gap_note(gaps),
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
