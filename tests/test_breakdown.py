"""The typed figures pattern drills add to the record (runner.breakdown), against oracles
written from their definitions: quantiles from the standard library, phases from first
principles, and records that round-trip or are refused when unreadable."""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.breakdown import (
    GroundTruth,
    LatencyComparison,
    LatencyStats,
    RtoPhases,
    quantile,
    rto_phases,
)
from runner.measure.history import History
from runner.measure.rto import detection
from runner.scenario.values import parse_expectation

finite = st.floats(min_value=0, max_value=10, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=2, max_size=200), st.sampled_from([0.5, 0.95, 0.99]))
def test_quantile_is_linear_interpolation(values: list[float], q: float) -> None:
    # statistics' 'inclusive' method is the linear interpolation between closest ranks
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    assert quantile(sorted(values), q) == pytest.approx(cuts[round(q * 100) - 1], abs=1e-9)


def test_latency_stats_drop_what_is_not_a_duration_and_round_trip() -> None:
    stats = LatencyStats.of([0.01, math.nan, -1.0, math.inf, 0.03, 0.02])
    assert stats is not None and stats.count == 3
    assert (stats.p50, stats.max) == (0.02, 0.03)
    assert LatencyStats.of([]) is None and LatencyStats.of([math.nan]) is None
    comparison = LatencyComparison(start=10, end=40, sync=stats, async_=LatencyStats.of([0.001]))
    again = LatencyComparison.from_json(comparison.to_json())
    assert again.to_json() == comparison.to_json()  # microseconds in the record
    assert again.sync is not None and again.sync.p95 == pytest.approx(stats.p95, abs=1e-6)
    assert comparison.penalty_p50 == pytest.approx(0.019)
    assert LatencyComparison(start=0, end=1, sync=stats, async_=None).penalty_p50 is None
    assert "penalty p50 19.0 ms" in comparison.text()


WAIT = {
    "notConvergedAt": "2026-01-01T00:00:02.200+00:00",
    "convergedAt": "2026-01-01T00:00:02.400+00:00",
    "ttlSeconds": 5,
}
T0 = 1767225600.0  # 2026-01-01T00:00:00Z


def test_phases_from_the_run_parts() -> None:
    phases = rto_phases(
        fault_start=T0,
        detected=(T0 - 0.4, T0 + 0.6),
        failover_done=T0 + 2.1,
        dns_wait=WAIT,
        healthy=(T0 + 3.5, T0 + 6.5),
        observed=GroundTruth(
            rto_seconds=4.9,
            first_failure_seen=T0 + 0.05,
            dns_converged_at=T0 + 2.3,
            clients_switched_at=T0 + 7.0,
        ),
    )
    got = {p.key: p for p in phases.phases}
    assert list(got) == ["detected", "orchestrated", "dns-converged", "ttl-bound", "healthy"]
    d = got["detected"].measured
    assert d is not None and (d.lower - T0, d.upper - T0) == pytest.approx((-0.4, 0.6))
    assert got["detected"].observed == pytest.approx(T0 + 0.05)
    o = got["orchestrated"].measured
    assert o is not None and o.lower == o.upper == pytest.approx(T0 + 2.1)
    c, t = got["dns-converged"].measured, got["ttl-bound"].measured
    assert c is not None and t is not None
    assert (c.lower - T0, c.upper - T0) == pytest.approx((2.2, 2.4))
    assert (t.lower - c.lower, t.upper - c.upper) == pytest.approx((5.0, 5.0))
    h = got["healthy"].measured
    assert h is not None and (h.lower - T0, h.upper - T0) == pytest.approx((3.5, 6.5))
    assert got["healthy"].observed == pytest.approx(T0 + 4.9)
    assert got["ttl-bound"].observed == pytest.approx(T0 + 7.0)
    again = RtoPhases.from_json(phases.to_json())
    assert [p.key for p in again.phases] == list(got)
    for a, b in zip(again.phases, phases.phases, strict=True):
        assert (a.measured is None) == (b.measured is None)
        if a.measured and b.measured:  # milliseconds in the record
            assert a.measured.lower == pytest.approx(b.measured.lower, abs=0.001)
            assert a.measured.upper == pytest.approx(b.measured.upper, abs=0.001)


def test_a_moment_bounded_on_one_side_only_is_not_measured() -> None:
    phases = rto_phases(
        fault_start=T0,
        detected=(None, T0 + 0.6),  # no healthy sample before the first failing one
        failover_done=None,
        dns_wait=None,
        healthy=(T0 + 3.0, None),  # not recovered
        observed=None,
    )
    assert phases.phase("detected").measured is None  # type: ignore[union-attr]
    assert phases.phase("healthy").measured is None  # type: ignore[union-attr]


# --------------------------------------------------------------------------- detection

UP = parse_expectation(">= 0.99")
STEP = 1000


def _oracle(points: list[tuple[int, float]], holes: list[tuple[int, int]], f: int) -> Any:
    """From the definition, by runs: the failing runs of samples; the first one that
    reaches the state at F (the last sample at or before F, else the first) or lies after
    it; its first sample is the failure seen, the sample before it (if any, with nothing
    unknown between) the last healthy one."""
    at_f = max((i for i, (t, _) in enumerate(points) if t <= f), default=0)
    runs: list[list[int]] = []
    for i, (_, v) in enumerate(points):
        if v < 0.99:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    run = next((r for r in runs if r[-1] >= at_f), None)
    if run is None:
        return None
    first = run[0]
    failing = points[first][0]
    if first == 0:
        return (None, failing)
    healthy = points[first - 1][0]
    unknown = any(a < failing and b > healthy for a, b in holes)
    return (None if unknown else healthy, failing)


@given(
    st.lists(st.sampled_from([1.0, 1.0, 1.0, 0.0, 0.5]), min_size=1, max_size=40),
    st.lists(st.integers(min_value=-50, max_value=50), min_size=40, max_size=40),
    st.integers(min_value=-5, max_value=45),
    st.lists(st.integers(min_value=0, max_value=39), max_size=2),
)
def test_detection_is_the_first_failing_run_from_the_fault(
    values: list[float], jitter: list[int], f_index: int, gaps: list[int]
) -> None:
    base = 1_767_225_600_000
    times, t = [], base
    for i in range(len(values)):
        t += STEP + jitter[i] + (5 * STEP if i in gaps else 0)
        times.append(t)
    points = list(zip(times, values, strict=True))
    f = base + f_index * STEP + 500
    history = History(points=tuple(points))
    got = detection([history], up_when=UP, fault_start=f)
    spacing = sorted(b - a for a, b in itertools.pairwise(times))
    step = spacing[(len(spacing) - 1) // 2] if spacing else None
    holes = (
        [] if step is None else [(a, b) for a, b in itertools.pairwise(times) if b - a > 2 * step]
    )
    expected = _oracle(points, holes, f)
    assert got == expected


def test_detection_needs_one_series_and_a_failure() -> None:
    series = History(points=((1000, 1.0), (2000, 1.0), (3000, 1.0)))
    assert detection([series], up_when=UP, fault_start=1500) is None
    assert detection([series, series], up_when=UP, fault_start=1500) is None
    assert detection([], up_when=UP, fault_start=1500) is None
    unknown = History(points=((1000, 1.0), (2000, 0.0), (3000, 1.0)), unknown=((1500, 1900),))
    assert detection([unknown], up_when=UP, fault_start=1500) == (None, 2000)
    # an outage already under way at the fault start is traced back to its first failing sample
    early = History(points=((1000, 1.0), (2000, 0.0), (3000, 0.0), (4000, 1.0)))
    assert detection([early], up_when=UP, fault_start=3500) == (1000, 2000)


def test_phases_with_nothing_measured_say_so_rather_than_invent() -> None:
    phases = rto_phases(
        fault_start=T0,
        detected=None,
        failover_done=None,
        dns_wait=None,
        healthy=None,
        observed=None,
    )
    assert all(p.measured is None and p.observed is None for p in phases.phases)
    assert phases.ttl_seconds is None
    for bad in ({}, {"faultStart": "not a time"}, {"faultStart": None}):
        with pytest.raises(ValueError):
            RtoPhases.from_json(bad)
