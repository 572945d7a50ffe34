"""RPO, two ways: replication lag before the fault, and canary writes lost at failover.

Pure functions over fetched series. The lag method takes the largest lag (seconds) seen
over [fault start - lookback, fault start]: had the primary died at that moment, that
much acknowledged data would not be on the replica. The canary method counts writes
the old primary acknowledged that the new primary does not have. Both given: the RPO is
the larger time, and both are reported. Missing data is inconclusive, never zero loss.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from runner.measure import samples
from runner.measure.results import CanaryOutcome, LagOutcome, RpoResult, Status
from runner.prom import Series

CANARY_LOOKBACK_S = 300.0
"""The acknowledged canary series is read from this long before fault start."""


def measure_lag(
    series: list[Series], *, fault_start: datetime, lookback_s: float, step_s: float
) -> LagOutcome:
    """The maximum of the lag (over all its series) in [fault start - lookback, fault start]."""
    f = samples.unix(fault_start)
    lo = f - lookback_s
    per_series = [samples.within(s.samples, lo, f) for s in series]
    points = [p for data in per_series for p in data]

    def outcome(problem: str | None, best: samples.Sample | None = None) -> LagOutcome:
        return LagOutcome(
            seconds=None if best is None else best[1],
            at=None if best is None else samples.instant(best[0]),
            lookback_seconds=lookback_s,
            samples=len(points),
            series=len(series),
            problem=problem,
        )

    if not points:
        return outcome("the lag query returned no data in the lookback before fault start")
    for data in per_series:
        holes = samples.gaps(data, start=lo, end=f, step=step_s) if data else []
        if holes:
            return outcome(f"the lag series has gaps ({holes[0].describe()})")
    return outcome(None, max(points, key=lambda p: p[1]))


def measure_canary(
    *,
    acknowledged: list[Series],
    present: list[Series],
    acknowledged_time: list[Series] | None = None,
    present_time: list[Series] | None = None,
    fault_start: datetime,
    failover_done: datetime | None,
    window_end: datetime,
) -> CanaryOutcome:
    """Last acknowledged sequence (from before the fault on) minus last present after failover."""
    f, w = samples.unix(fault_start), samples.unix(window_end)
    after = samples.unix(failover_done) if failover_done is not None else f
    ack, problem = _last("acknowledged", acknowledged, f - CANARY_LOOKBACK_S, w)
    now, problem = _last("present", present, after, w, problem)
    window = None
    if acknowledged_time is not None and present_time is not None:
        since = f - CANARY_LOOKBACK_S
        ack_t, problem = _last("acknowledgedTime", acknowledged_time, since, w, problem)
        now_t, problem = _last("presentTime", present_time, after, w, problem)
        if ack_t is not None and now_t is not None:
            window = max(0.0, ack_t - now_t)
    lost = None if ack is None or now is None else max(0, round(ack - now))
    return CanaryOutcome(
        lost_writes=lost, ack_seq=ack, present_seq=now, window_seconds=window, problem=problem
    )


def combine(*, lag: LagOutcome | None, canary: CanaryOutcome | None, step_s: float) -> RpoResult:
    """One RPO from the methods given (not yet judged: see `RpoResult.judged`)."""
    base = RpoResult(
        seconds=None,
        status=Status.INCONCLUSIVE,
        explanation="no RPO method given",
        uncertainty_seconds=step_s,
        step_seconds=step_s,
        lag=lag,
        canary=canary,
    )
    if lag is None and canary is None:
        return base
    problems = [m.problem for m in (lag, canary) if m is not None and m.problem]
    if problems:
        return replace(base, explanation="; ".join(problems))
    candidates = (
        lag.seconds if lag is not None else None,
        canary.window_seconds if canary is not None else None,
    )
    times = [t for t in candidates if t is not None]
    seconds = max(times) if times else None
    parts = []
    if lag is not None and lag.seconds is not None:
        parts.append(
            f"max replication lag {lag.seconds:.1f}s"
            f" in the {lag.lookback_seconds:g}s before the fault"
        )
    if canary is not None:
        text = f"{canary.lost_writes} acknowledged canary writes lost"
        if canary.window_seconds is not None:
            text += f" ({canary.window_seconds:.1f}s of writes)"
        parts.append(text)
    head = f"RPO {seconds:.1f}s ± {step_s:g}s: " if seconds is not None else ""
    return replace(
        base, seconds=seconds, status=Status.NO_OBJECTIVE, explanation=head + "; ".join(parts)
    )


def _last(
    role: str, series: list[Series], lo: float, hi: float, problem: str | None = None
) -> tuple[float | None, str | None]:
    """The last value of a single series in [lo, hi]; keeps the first problem found."""
    if len(series) > 1:
        why = f"the {role} query returned {len(series)} series; aggregate it to one (max(...))"
        return None, problem or why
    data = samples.within(series[0].samples, lo, hi) if series else []
    if not data:
        return None, problem or f"the {role} query returned no data"
    return data[-1][1], problem
