"""The measurement rules as pure functions over synthetic histories (no Prometheus).

The adversarial cases with a truth are in test_conformance.py; these pin the result
values themselves: JSON forms, non-finite inputs, time resolution, the grid builder."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from runner.measure import checks, history, rpo, rto, timebase
from runner.measure.history import GridSeries, History
from runner.measure.results import Bounds, RpoResult, RtoOutcome, RtoResult, Status
from runner.prom import Series
from runner.scenario import model
from runner.scenario.values import parse_expectation

F = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FM = timebase.ms(F)
UP = parse_expectation(">= 1")


def series(values: Sequence[float | None], *, step: float = 1.0, start: float = 0.0) -> Series:
    """Samples at F+start, F+start+step, ...; None leaves a hole."""
    t0 = F.timestamp() + start
    points = tuple((t0 + i * step, v) for i, v in enumerate(values) if v is not None)
    return Series(labels={}, samples=points)


def hist(values: Sequence[float | None], *, step: float = 1.0, start: float = -10.0) -> History:
    return history.from_samples(
        {},
        [(FM + round((start + i * step) * 1000), v) for i, v in enumerate(values) if v is not None],
    )


def sec(n: float) -> datetime:
    return F + timedelta(seconds=n)


def measure(values: Sequence[float | None], *, hold: float = 3, window: float = 30) -> RtoResult:
    """Samples every second from F-10 s (so `values[10]` is the sample at F)."""
    return rto.compute_rto(
        [hist(values)],
        up_when=UP,
        hold=round(hold * 1000),
        fault_start=FM,
        window_end=FM + round(window * 1000),
        failover_done=FM + 2500,
    )


def test_the_time_base_is_whole_milliseconds() -> None:
    at = datetime(2026, 3, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    assert timebase.ms(at) == FM + 999
    assert timebase.canonical(at) == datetime(2026, 3, 1, 12, 0, 0, 999_000, tzinfo=UTC)
    assert timebase.from_seconds(1772366400.123) == 1772366400123
    assert timebase.parse_iso(timebase.iso(FM + 7) or "") == FM + 7
    with pytest.raises(ValueError, match="timezone-aware"):
        timebase.ms(datetime(2026, 3, 1))


def test_rto_bounds_run_from_the_last_failing_to_the_first_healthy_sample() -> None:
    result = measure([1] * 11 + [0, 0, 0, 0, 1] + [1] * 30)  # failing F+1..F+4
    assert result.outcome is RtoOutcome.RECOVERED
    assert result.bounds == Bounds(lower=4.0, upper=5.0)
    assert (result.seconds, result.uncertainty_seconds) == (4.5, 0.5)
    assert result.time_to_detect_seconds == 1.0 and result.time_to_failover_seconds == 2.5
    assert result.recovered_at == FM + 5000 and result.last_failing_at == FM + 4000
    assert [(o.start, o.end) for o in result.outages] == [(FM + 1000, FM + 5000)]
    assert result.judged(5.0).status is Status.MET
    assert result.judged(4.5).status is Status.INCONCLUSIVE
    assert "too close to call" in result.judged(4.5).explanation


def test_a_verdict_at_the_lower_bound_is_not_a_miss() -> None:
    result = measure([1] * 11 + [0, 0, 0, 0, 1] + [1] * 30)
    assert result.judged(3.999).status is Status.MISSED
    assert result.judged(4.0).status is Status.INCONCLUSIVE


def test_never_failed_is_said_loudly() -> None:
    result = measure([1] * 41)
    assert result.outcome is RtoOutcome.NEVER_FAILED
    assert "NEVER FAILED" in result.explanation and result.bounds == Bounds(lower=0, upper=0)


def test_a_relapse_after_hold_is_a_miss_whatever_the_objective() -> None:
    result = measure([1] * 11 + [0, 0, 1, 1, 1, 1, 1, 0, 0, 1] + [1] * 30)
    assert result.outcome is RtoOutcome.RELAPSED and result.relapse_at == FM + 8000
    assert result.judged(3600).status is Status.MISSED


def test_json_round_trips_and_is_strict() -> None:
    result = measure([1] * 11 + [0, math.nan, math.inf, 0, 1] + [1] * 30).judged(10)
    assert result.ignored_samples == 2
    doc = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert {"seconds", "lowerSeconds", "upperSeconds", "outcome", "status"} <= set(doc)
    assert RtoResult.from_json(doc) == result
    assert "\n" not in doc["explanation"]


def test_history_json_refuses_non_finite_values() -> None:
    h = hist([1, math.nan, 2])
    assert h.ignored == 1 and h.first_ignored == FM - 9000
    assert History.from_json(json.loads(json.dumps(h.to_json()))) == h
    with pytest.raises(ValueError, match="finite"):
        History.from_json({"labels": {}, "samples": [[1.0, "NaN"]]})


def test_the_grid_builder_marks_filled_in_values_unknown() -> None:
    step = 1000
    outputs = [GridSeries(labels={}, values={FM + i * step: 1.0 for i in range(20)})]
    # one underlying series sampled every 2 s until F+6 s, then silent (filled in)
    stamps = [{FM + i * step: FM + min(i // 2 * 2, 6) * step for i in range(20)}]
    (h,) = history.from_grid(outputs, stamps, step=step, sliding=False)
    assert [t - FM for t, _ in h.points] == [0, 2000, 4000, 6000]
    assert h.unknown and h.unknown[0][0] == FM + 10_000 and h.unknown[-1][1] == FM + 19_000


def test_lag_bounds_grow_one_second_per_second_between_samples() -> None:
    lag = rpo.compute_lag([hist([0.5] * 6, step=5, start=-25)], fault_start=FM, lookback=15_000)
    assert lag.bounds == Bounds(lower=0.5, upper=5.5) and lag.problem is None
    nan_only = rpo.compute_lag(
        [hist([math.nan] * 6, step=5, start=-25)], fault_start=FM, lookback=15_000
    )
    assert nan_only.bounds is None and nan_only.problem and "non-finite" in nan_only.problem
    judged = rpo.combine(lag=nan_only, canary=None).judged(5.0, None)
    assert judged.status is Status.INCONCLUSIVE
    assert json.loads(json.dumps(judged.to_json(), allow_nan=False))["seconds"] is None


def test_a_nan_canary_never_raises_and_never_reaches_the_record() -> None:
    nan = hist([math.nan] * 5, start=-2)
    canary = rpo.compute_canary(
        acknowledged=[nan],
        present=[nan],
        fault_start=FM,
        failover_done=FM + 1000,
        window_end=FM + 3000,
    )
    assert canary.lost_writes is None and canary.problem
    result = rpo.combine(lag=None, canary=canary).judged(None, 0)
    assert result.status is Status.INCONCLUSIVE
    doc = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert RpoResult.from_json(doc) == result


def test_lost_writes_with_zero_lost_time_never_pass() -> None:
    canary = rpo.compute_canary(
        acknowledged=[hist([100, 100], start=0)],
        present=[hist([90, 90], start=2)],
        acknowledged_time=[hist([50.0, 50.0], start=0)],
        present_time=[hist([50.0, 50.0], start=2)],
        fault_start=FM,
        failover_done=FM + 1000,
        window_end=FM + 4000,
    )
    assert canary.lost_writes == 10 and canary.window_seconds is None and canary.problem
    assert rpo.combine(lag=None, canary=canary).judged(5.0, 20).status is Status.INCONCLUSIVE


def test_steady_state_check_needs_full_coverage() -> None:
    check = model.SteadyStateCheck(name="a", query="q", expect=">= 1", window="10s")
    ok = checks.evaluate_check(check, [series([1] * 11, start=-10)], end=F, step_s=1)
    assert ok.passed and ok.samples == 11
    partial = checks.evaluate_check(check, [series([1] * 4, start=-3)], end=F, step_s=1)
    assert not partial.passed and "not enough data" in partial.reason
    assert checks.evaluate_check(check, [], end=F, step_s=1).reason == "no data"


def test_guardrail_across_series_reports_the_first_breach() -> None:
    guard = model.Guardrail.model_validate(
        {"name": "g", "query": "q", "abortWhen": "> 5", "for": "2s"}
    )
    a = Series(labels={"pod": "a"}, samples=series([1, 6, 6, 6, 1, 1]).samples)
    b = Series(labels={"pod": "b"}, samples=series([6, 6, 1, 7, 8, 9]).samples)
    result = checks.evaluate_guardrail(guard, [a, b], start=F, end=sec(10), step_s=1)
    assert result.breached and result.at == sec(3) and result.value == 6
    assert result.labels == {"pod": "a"} and result.since == sec(1)
    assert result.to_json()["at"] == "2026-03-01T12:00:03.000Z"
