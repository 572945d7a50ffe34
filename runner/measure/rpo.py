"""RPO, two ways: replication lag before the fault, and canary writes lost at failover.

Pure functions over histories (real sample times). Definitions (docs/measurement.md):

* **lag**: the largest replication lag (seconds) over [F - lookback, F]. The samples give
  a lower bound (a lag that was really seen); between two samples the lag can have grown
  by at most the time between them (a time lag grows at most one second per second), so
  `lag(a) + (b - a)` bounds it from above, and the last sample before F bounds the lag at
  the moment of loss. Sparse samples give wide bounds: the verdict says so.
* **canary** (the contract an exporter provides): `acknowledged` is the writer's highest
  acknowledged sequence; `present` the highest *contiguous* sequence of that writer on the
  new primary (or `missing`, an explicit count of acknowledged writes absent from it);
  `acknowledgedTime` and `presentTime` are the **writer's** timestamps of those writes.
  Lost writes = acknowledged (as of the loss) - present, or `missing`; the time RPO is the
  writer's time of the last acknowledged write minus that of the last present one.

Missing data is a problem (inconclusive), never zero loss; non-finite samples were
dropped when the histories were built and are counted.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

from runner.measure import timebase
from runner.measure.history import History
from runner.measure.results import Bounds, CanaryOutcome, LagOutcome, RpoResult, Status
from runner.measure.timebase import Ms

CANARY_LOOKBACK: Ms = 300_000
"""The acknowledged canary series is read from this long before the fault start."""
LAG_CONTEXT: Ms = 300_000
"""The lag is read from this long before the lookback, to bound the lag at its start."""


def compute_lag(series: Sequence[History], *, fault_start: Ms, lookback: Ms) -> LagOutcome:
    """Bounds on the largest lag over [F - lookback, F], over every series of the query."""
    f = fault_start
    lo = f - lookback
    samples = sum(1 for h in series for t, _ in h.points if lo <= t <= f)
    ignored = sum(h.ignored for h in series)
    intervals = [i for h in series if (i := h.interval()) is not None]
    base = LagOutcome(
        bounds=None,
        at=None,
        lookback_seconds=lookback / 1000,
        samples=samples,
        series=len(series),
        ignored_samples=ignored,
        interval_seconds=max(intervals) / 1000 if intervals else None,
    )
    if not series:
        return replace(base, problem="the lag query returned no data before the fault")
    lower, upper, at = 0.0, 0.0, None
    for h in series:
        points = [(t, max(0.0, v)) for t, v in h.points if t <= f]
        inside = [(t, v) for t, v in points if t >= lo]
        before = [(t, v) for t, v in points if t < lo]
        anchors = before[-1:] + inside
        if not anchors or anchors[0][0] > lo:
            what = "" if not h.labels else " " + _labels(h.labels)
            why = (
                f"the lag series{what} has no sample at the start of the"
                f" {lookback / 1000:g}s lookback (nor in the {LAG_CONTEXT / 1000:g}s before it)"
            )
            if ignored:
                why += f"; {ignored} non-finite samples ignored"
            return replace(base, problem=why)
        for (a, va), (b, _) in itertools.pairwise(anchors):
            upper = max(upper, va + (min(b, f) - a) / 1000)
        last_t, last_v = anchors[-1]
        upper = max(upper, last_v + (f - last_t) / 1000)
        for t, v in inside:
            if at is None or v > lower:
                lower, at = v, t
    return replace(base, bounds=Bounds(lower=lower, upper=max(upper, lower)), at=at)


def compute_canary(
    *,
    acknowledged: Sequence[History],
    present: Sequence[History] | None = None,
    missing: Sequence[History] | None = None,
    acknowledged_time: Sequence[History] | None = None,
    present_time: Sequence[History] | None = None,
    fault_start: Ms,
    failover_done: Ms | None,
    window_end: Ms,
) -> CanaryOutcome:
    """Lost acknowledged writes and the writer-clock time they span (see the module doc)."""
    f, w = fault_start, window_end
    ack_until = failover_done if failover_done is not None else w
    after = failover_done if failover_done is not None else f
    ignored = sum(
        h.ignored
        for group in (acknowledged, present, missing, acknowledged_time, present_time)
        if group
        for h in group
    )
    problems: list[str] = []

    def one(role: str, group: Sequence[History], lo: Ms, hi: Ms) -> list[tuple[Ms, float]]:
        return _canary_samples(role, group, lo, hi, problems)

    acks = one("acknowledged", acknowledged, f - CANARY_LOOKBACK, ack_until)
    ack = max(acks, key=lambda p: p[1]) if acks else None
    lower_bound = ack is not None and not any(t >= f for t, _ in acks)
    now = one("present", present, after, w) if present is not None else []
    gone = one("missing", missing, after, w) if missing is not None else []
    ack_t = (
        one("acknowledgedTime", acknowledged_time, f - CANARY_LOOKBACK, ack_until)
        if (acknowledged_time is not None)
        else []
    )
    now_t = one("presentTime", present_time, after, w) if present_time is not None else []
    outcome = CanaryOutcome(
        lost_writes=None,
        acknowledged=None if ack is None else ack[1],
        acknowledged_at=None if ack is None else ack[0],
        present=now[-1][1] if now else None,
        missing=gone[-1][1] if gone else None,
        acknowledged_time=max(v for _, v in ack_t) if ack_t else None,
        present_time=now_t[-1][1] if now_t else None,
        ignored_samples=ignored,
        lost_is_lower_bound=lower_bound,
    )
    lost: int | None = None
    if ack is not None and now:
        lost = max(0, round(ack[1] - now[-1][1]))
    elif gone:
        lost = max(0, round(gone[-1][1]))
    timed = acknowledged_time is not None and present_time is not None
    window = _lost_window(lost, outcome, problems) if lost is not None and timed else None
    if problems and ignored:
        problems.append(f"{ignored} non-finite canary samples ignored")
    return replace(
        outcome,
        lost_writes=lost,
        window_seconds=window,
        problem="; ".join(problems) if problems else None,
    )


def _canary_samples(
    role: str, group: Sequence[History], lo: Ms, hi: Ms, problems: list[str]
) -> list[tuple[Ms, float]]:
    """The one series' samples in [lo, hi]; none, with the problem said, when the query
    returned several series or no sample there."""
    if len(group) > 1:
        problems.append(
            f"the canary {role} query returned {len(group)} series; aggregate it to one"
        )
        return []
    data = [(t, v) for t, v in group[0].points if lo <= t <= hi] if group else []
    if not data:
        problems.append(
            f"the canary {role} query has no sample between {timebase.clock(lo)}"
            f" and {timebase.clock(hi)}"
        )
    return data


def _lost_window(lost: int, outcome: CanaryOutcome, problems: list[str]) -> float | None:
    """The writer-clock time the lost writes span: 0 when none was lost; None (with the
    problem said) when the two times cannot be from the writer's clock."""
    if lost == 0:
        return 0.0
    if outcome.acknowledged_time is None or outcome.present_time is None:
        return None
    window = outcome.acknowledged_time - outcome.present_time
    if window <= 0:
        problems.append(
            f"{lost} acknowledged writes were lost, but the writer's time of the last"
            f" acknowledged write is not after that of the last present one"
            f" ({window:+.3f}s): the two times are not from the writer's clock"
        )
        return None
    return window


def combine(*, lag: LagOutcome | None, canary: CanaryOutcome | None) -> RpoResult:
    """One RPO from the methods given (not yet judged: see `RpoResult.judged`)."""
    lowers: list[float] = []
    uppers: list[float | None] = []
    parts: list[str] = []
    if lag is not None:
        if lag.bounds is not None:
            lowers.append(lag.bounds.lower)
            uppers.append(lag.bounds.upper)
            parts.append(
                f"largest replication lag in the {lag.lookback_seconds:g}s before the fault:"
                f" {lag.bounds.text()}"
            )
        else:
            uppers.append(None)
    if canary is not None:
        if canary.window_seconds is not None:
            lowers.append(canary.window_seconds)
            uppers.append(canary.window_seconds)
        elif canary.problem:
            uppers.append(None)
        if canary.lost_writes is not None:
            text = f"{'at least ' if canary.lost_is_lower_bound else ''}{canary.lost_writes}"
            text += " acknowledged canary writes lost"
            if canary.window_seconds is not None:
                text += f" ({canary.window_seconds:.3g}s of writes, writer's clock)"
            parts.append(text)
    bounds = None
    if lowers:
        upper = None if any(u is None for u in uppers) else max(u for u in uppers if u is not None)
        bounds = Bounds(lower=max(lowers), upper=upper)
    head = f"RPO {bounds.text()}: " if bounds is not None and bounds.upper is not None else ""
    return RpoResult(
        status=Status.NO_OBJECTIVE,
        explanation=head + "; ".join(parts),
        bounds=bounds,
        lag=lag,
        canary=canary,
    )


def _labels(labels: object) -> str:
    if not isinstance(labels, dict):
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return "{" + inner + "}"
