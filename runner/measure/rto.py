"""RTO from an SLI series: fault start until the SLI met `upWhen` continuously for `hold`.

Pure: it works on a fetched range-query answer. The SLI is a sampled signal: the value
at grid time t comes from the latest scrape at or before t. So if the first sample of
the run that held is at t_k and the sample before it (failing) at t_j, the recovery
happened in (t_j - scrape interval, t_k]. The RTO reported is the middle of that
interval, and the uncertainty is half its width, never less than one step (with the
default step = scrape interval, both are exactly one step). See docs/measurement.md.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from runner.measure import samples
from runner.measure.results import Outage, RtoResult, Status
from runner.prom import Series
from runner.scenario.values import Expectation


def compute_rto(
    sli: list[Series],
    *,
    up_when: Expectation,
    hold_s: float,
    fault_start: datetime,
    failover_done: datetime | None,
    window_end: datetime,
    step_s: float,
    scrape_interval_s: float | None = None,
) -> RtoResult:
    """Measure RTO (not yet judged against an objective: see `RtoResult.judged`)."""
    f, w = samples.unix(fault_start), samples.unix(window_end)
    scrape = scrape_interval_s or step_s
    base = RtoResult(
        seconds=None,
        status=Status.INCONCLUSIVE,
        explanation="",
        uncertainty_seconds=step_s,
        hold_seconds=hold_s,
        step_seconds=step_s,
        time_to_failover_seconds=None if failover_done is None else samples.unix(failover_done) - f,
    )
    if not sli:
        return replace(base, explanation="the SLI query returned no data in the window")
    if len(sli) > 1:
        return replace(
            base,
            explanation=f"the SLI query returned {len(sli)} series; aggregate it to one"
            " (for example min(...) or sum(...))",
        )
    data = samples.within(sli[0].samples, f, w)
    if not data:
        why = "the SLI has no samples between fault start and the window end"
        return replace(base, explanation=why)

    failing = [t for t, v in data if not up_when.holds(v)]
    base = replace(
        base,
        time_to_detect_seconds=failing[0] - f if failing else None,
        outages=_outages(data, up_when, step_s),
    )
    held = [r for r in samples.runs(data, up_when.holds, step=step_s) if r.seconds >= hold_s - 1e-6]
    gaps = samples.gaps(data, start=f, end=w, step=step_s)
    if not held:
        if gaps:
            why = f"the SLI did not recover within the window but has gaps ({gaps[0].describe()})"
            return replace(base, explanation=why)
        return replace(
            base,
            status=Status.MISSED,
            explanation=f"the SLI never met '{up_when.text}' for {hold_s:g}s"
            f" within the window ({w - f:g}s after fault start)",
        )
    run = held[0]
    early = [g for g in gaps if g.start < run.start]
    if early:
        return replace(
            base,
            explanation=f"the SLI has a gap before it recovered ({early[0].describe()});"
            " an outage could hide there",
        )
    lower = f if run.first == 0 else max(f, data[run.first - 1][0] - scrape)
    upper = run.start
    seconds = (lower + upper) / 2 - f
    uncertainty = max(step_s, (upper - lower) / 2)
    if not failing:
        text = f"the SLI never failed after fault start; RTO {seconds:.1f}s ± {uncertainty:.1f}s"
    else:
        text = (
            f"the SLI met '{up_when.text}' for {hold_s:g}s from {samples.clock_text(run.start)};"
            f" RTO {seconds:.1f}s ± {uncertainty:.1f}s"
        )
    return replace(
        base,
        seconds=seconds,
        status=Status.NO_OBJECTIVE,
        explanation=text,
        uncertainty_seconds=uncertainty,
        recovered_at=samples.instant(run.start),
    )


def _outages(data: list[samples.Sample], up_when: Expectation, step_s: float) -> tuple[Outage, ...]:
    """Runs of failing samples, each ending at the next good sample (or open at the end)."""
    found = []
    for run in samples.runs(data, lambda v: not up_when.holds(v), step=step_s):
        after = run.last + 1
        if after >= len(data):
            end = None
        elif up_when.holds(data[after][1]):
            end = samples.instant(data[after][0])
        else:  # the failing run was cut by a gap: it is known to last until its last sample
            end = samples.instant(run.end)
        found.append(Outage(start=samples.instant(run.start), end=end))
    return tuple(found)
