"""An independent oracle for the measurement definitions of docs/measurement.md.

Written from the definitions, not from `runner/measure` (nothing is imported from it):
given the samples that were really written (or scraped), it derives what an ideal
observer may conclude and the verdict. Times are integer milliseconds, as the
definitions say. The conformance suite compares it with what drill-runner measures
through a real Prometheus; the worlds in `conformance.py` add the physical truth.

Definitions used here (the docs say the same in prose):

* observations: a plain selector's samples as stored; a `min`/`max` over several
  series is evaluated per grid point (multiples of the step) from each series' latest
  sample (Prometheus's 5 minute look-back), placed at the newest of those sample times;
  a grid point resting on a sample older than 2 of its series' own intervals (median
  spacing) is unknown; `avg_over_time(x[r])` is evaluated per grid point and placed at it;
* non-finite samples are dropped (and counted);
* the SLI's interval I = median spacing of its observations in the read range
  [F - 5 min, W]; two consecutive observations more than 2·I apart, an unknown grid point
  between them, or the last one more than 2·I before W, leave the state unknown there;
* RTO: see `rto()` below; verdict: met iff upper <= objective, missed iff lower >
  objective (or a relapse), else inconclusive;
* lag: lower = largest sample in [F - lookback, F]; upper = max over samples from the
  last one before the window of v + (next sample time, capped at F, - t), and of the
  last sample's v + (F - t); no sample at or before the window start: inconclusive;
* canary: see `canary()`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

LOOKBACK_5M = 300_000
Sample = tuple[int, float]


@dataclass(frozen=True)
class Obs:
    t: int
    v: float
    since: int  # the oldest sample the value rests on


@dataclass
class View:
    """What an ideal observer has: observations and explicitly unknown spans (a, b]."""

    obs: list[Obs]
    unknown: list[tuple[int, int]] = field(default_factory=list)
    ignored: int = 0


def _median_spacing(times: Sequence[int]) -> int | None:
    d = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    if not d:
        return None
    return d[(len(d) - 1) // 2]  # the lower median


def finite(samples: Sequence[Sample]) -> tuple[list[Sample], int]:
    kept = [(t, v) for t, v in samples if math.isfinite(v)]
    return kept, len(samples) - len(kept)


def view_selector(samples: Sequence[Sample], lo: int, hi: int) -> View:
    kept, dropped = finite([(t, v) for t, v in samples if lo <= t <= hi])
    return View(obs=[Obs(t, v, t) for t, v in sorted(kept)], ignored=dropped)


def view_aggregate(
    series: Sequence[Sequence[Sample]],
    agg: Callable[[list[float]], float],
    *,
    lo: int,
    hi: int,
    step: int,
    ended: dict[int, int] | None = None,
) -> View:
    """`min(x)` / `max(x)` over several series, as Prometheus evaluates it on a grid.
    `ended` maps a series index to the time of its staleness marker (live scrapes only:
    from then on the series is gone, not filled in)."""
    own = [sorted(s) for s in series]
    ended = ended or {}
    intervals = [_median_spacing([t for t, _ in s if lo <= t <= hi]) or step for s in own]
    out = View(obs=[])
    g = -(-lo // step) * step
    while g <= hi:
        latest = []
        for index, (s, interval) in enumerate(zip(own, intervals, strict=True)):
            if index in ended and g >= ended[index]:
                continue
            before = [(t, v) for t, v in s if t <= g and g - t <= LOOKBACK_5M]
            if before:
                latest.append((before[-1], interval))
        if not latest or any(g - t > 2 * i for (t, _), i in latest):
            out.unknown.append((g - step, g))
        else:
            value = agg([v for (_, v), _ in latest])
            newest = max(t for (t, _), _ in latest)
            oldest = min(t for (t, _), _ in latest)
            if out.obs and newest <= out.obs[-1].t:
                if value != out.obs[-1].v and g > out.obs[-1].t:
                    out.obs.append(Obs(g, value, oldest))
            else:
                out.obs.append(Obs(newest, value, oldest))
        g += step
    return out


def view_avg_over_time(samples: Sequence[Sample], rng: int, *, lo: int, hi: int, step: int) -> View:
    """`avg_over_time(x[rng])` on the grid: the mean of the samples in [g - rng, g]."""
    s = sorted(samples)
    interval = _median_spacing([t for t, _ in s if lo <= t <= hi]) or step
    out = View(obs=[])
    g = -(-lo // step) * step
    while g <= hi:
        inside = [v for t, v in s if g - rng <= t <= g]
        latest = [t for t, _ in s if t <= g and g - t <= LOOKBACK_5M]
        if not inside or not latest or g - latest[-1] > 2 * interval:
            out.unknown.append((g - step, g))
        else:
            out.obs.append(Obs(g, sum(inside) / len(inside), latest[-1]))
        g += step
    return out


# ------------------------------------------------------------------ RTO


@dataclass(frozen=True)
class RtoTruth:
    outcome: str
    status: str
    lower: float | None = None
    upper: float | None = None


def rto(
    view: View,
    *,
    healthy: Callable[[float], bool],
    hold: int,
    f: int,
    w: int,
    objective: float | None,
    requested: int | None = None,
    widening: int = 0,
) -> RtoTruth:
    obs = [o for o in view.obs if o.t <= w]
    interval = _median_spacing([o.t for o in obs])
    if interval is None or not any(o.t >= f for o in obs):
        return RtoTruth("no-data", "inconclusive")

    def unknown_between(a: int, b: int) -> bool:
        if b - a > 2 * interval:
            return True
        return any(x < b and y > a for x, y in view.unknown)

    before = [o for o in obs if o.t <= f]
    start_i = len(before) - 1 if before else 0
    seq = obs[start_i:]
    start_unknown = (not before) or unknown_between(seq[0].t, seq[1].t if len(seq) > 1 else w)
    tail_unknown = w - seq[-1].t > 2 * interval or any(
        x < w + 1 and y > seq[-1].t for x, y in view.unknown
    )
    gaps_inside = [unknown_between(seq[i - 1].t, seq[i].t) for i in range(1, len(seq))]
    is_ok = [healthy(o.v) for o in seq]

    # when users started to see an outage that was under way at F (it began after `began`)
    start = f
    if not is_ok[0] and seq[0].t <= f and requested is not None:
        j = start_i
        while j > 0 and not healthy(obs[j - 1].v):
            j -= 1
        known = j > 0 and not unknown_between(obs[j - 1].t, obs[j].t)
        began = obs[j - 1].t if known else obs[j].t
        if began >= requested:
            start = min(f, began)

    if all(is_ok) and not start_unknown and not any(gaps_inside) and not tail_unknown:
        return _judge(RtoTruth("never-failed", "no-objective", 0.0, 0.0), objective)

    # the final healthy run: back from the last observation while healthy and known
    final_start = None
    if is_ok[-1] and not tail_unknown:
        k = len(seq) - 1
        while k > 0 and is_ok[k - 1] and not gaps_inside[k - 1]:
            k -= 1
        final_start = k
    held = final_start is not None and seq[-1].t - seq[final_start].t >= hold

    # a relapse: after the first failing observation, a healthy known run of >= hold,
    # then another failing observation
    relapse = False
    first_bad = next((i for i, ok in enumerate(is_ok) if not ok), None)
    if first_bad is not None:
        i = first_bad + 1
        while i < len(seq):
            if is_ok[i]:
                j = i
                while j + 1 < len(seq) and is_ok[j + 1] and not gaps_inside[j]:
                    j += 1
                if seq[j].t - seq[i].t >= hold and any(not ok for ok in is_ok[j + 1 :]):
                    relapse = True
                    break
                i = j + 1
            else:
                i += 1

    def lower_from(last_bad: int | None) -> float:
        if last_bad is None:
            return 0.0
        return max(0, seq[last_bad].since - widening - start) / 1000

    if held and final_start is not None:
        bads = [i for i in range(final_start) if not is_ok[i]]
        upper = max(0, seq[final_start].t - start) / 1000
        lower = min(lower_from(bads[-1] if bads else None), upper)
        outcome = "relapsed" if relapse else "recovered"
        return _judge(RtoTruth(outcome, "no-objective", lower, upper), objective)
    bads = [i for i, ok in enumerate(is_ok) if not ok]
    outcome = "relapsed" if relapse else "not-recovered"
    return _judge(
        RtoTruth(outcome, "no-objective", lower_from(bads[-1] if bads else None), None),
        objective,
    )


def _judge(t: RtoTruth, objective: float | None) -> RtoTruth:
    if objective is None:
        return t
    if t.outcome == "relapsed":
        return RtoTruth(t.outcome, "missed", t.lower, t.upper)
    assert t.lower is not None
    if t.upper is not None and t.upper <= objective:
        status = "met"
    elif t.lower > objective:
        status = "missed"
    else:
        status = "inconclusive"
    return RtoTruth(t.outcome, status, t.lower, t.upper)


# ------------------------------------------------------------------ lag


@dataclass(frozen=True)
class LagTruth:
    status: str
    lower: float | None = None
    upper: float | None = None


def lag(samples: Sequence[Sample], *, f: int, lookback: int, objective: float) -> LagTruth:
    kept, _ = finite([(t, max(0.0, v)) for t, v in samples if t <= f])
    kept.sort()
    lo = f - lookback
    before = [p for p in kept if p[0] < lo]
    inside = [p for p in kept if p[0] >= lo]
    chain = before[-1:] + inside
    if not chain or chain[0][0] > lo:
        return LagTruth("inconclusive")
    lower = max((v for _, v in inside), default=0.0)
    upper = chain[-1][1] + (f - chain[-1][0]) / 1000
    for (a, va), (b, _) in itertools.pairwise(chain):
        upper = max(upper, va + (min(b, f) - a) / 1000)
    upper = max(upper, lower)
    if upper <= objective:
        return LagTruth("met", lower, upper)
    if lower > objective:
        return LagTruth("missed", lower, upper)
    return LagTruth("inconclusive", lower, upper)


# ------------------------------------------------------------------ canary


@dataclass(frozen=True)
class CanaryTruth:
    status: str
    lost: int | None
    window: float | None


def canary(
    *,
    acknowledged: Sequence[Sample],
    present: Sequence[Sample] | None,
    missing: Sequence[Sample] | None,
    ack_time: Sequence[Sample],
    present_time: Sequence[Sample],
    f: int,
    d: int,
    w: int,
    max_lost: int,
    rpo_objective: float,
    lookback: int = 300_000,
) -> CanaryTruth:
    """The contract: lost = highest acknowledged as of the loss (read up to failover done)
    minus the new primary's highest contiguous (read after failover done), or `missing`;
    the time is the writer's time of the last acknowledged minus that of the last present
    write. Judged: lost > max_lost is a miss; a lost count that may be short (no
    acknowledged sample after F), a time that contradicts the count, or missing data is
    inconclusive."""
    acks, _ = finite([p for p in acknowledged if f - lookback <= p[0] <= d])
    ack_t, _ = finite([p for p in ack_time if f - lookback <= p[0] <= d])
    now_t, _ = finite(sorted(p for p in present_time if d <= p[0] <= w))
    if present is not None:
        now, _ = finite(sorted(p for p in present if d <= p[0] <= w))
    else:
        assert missing is not None
        now, _ = finite(sorted(p for p in missing if d <= p[0] <= w))
    if not acks or not now:
        return CanaryTruth("inconclusive", None, None)
    top = max(v for _, v in acks)
    short = not any(t >= f for t, _ in acks)
    lost = max(0, round(top - now[-1][1])) if present is not None else max(0, round(now[-1][1]))
    if lost > max_lost:
        return CanaryTruth("missed", lost, None)
    if short or not ack_t or not now_t:
        return CanaryTruth("inconclusive", lost, None)
    window = 0.0 if lost == 0 else max(v for _, v in ack_t) - now_t[-1][1]
    if lost > 0 and window <= 0:
        return CanaryTruth("inconclusive", lost, None)
    if window > rpo_objective:
        return CanaryTruth("missed", lost, window)
    return CanaryTruth("met", lost, window)
