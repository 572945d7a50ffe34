"""The measurement rules as pure functions over synthetic series (no Prometheus)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from runner.measure import checks, rpo, rto
from runner.measure.results import RpoResult, RtoResult, Status
from runner.prom import Series
from runner.scenario import model
from runner.scenario.values import parse_expectation

F = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UP = parse_expectation(">= 1")


def series(values: Sequence[float | None], *, step: float = 1.0, start: float = 0.0) -> Series:
    """Samples at F+start, F+start+step, ...; None leaves a hole."""
    t0 = F.timestamp() + start
    points = tuple((t0 + i * step, v) for i, v in enumerate(values) if v is not None)
    return Series(labels={}, samples=points)


def sec(n: float) -> datetime:
    return F + timedelta(seconds=n)


def measure(
    values: Sequence[float | None], *, hold: float = 3, window: float = 30, **kw: object
) -> RtoResult:
    args: dict[str, object] = {
        "up_when": UP,
        "hold_s": hold,
        "fault_start": F,
        "failover_done": None,
        "window_end": sec(window),
        "step_s": 1.0,
        **kw,
    }
    return rto.compute_rto([series(values)], **args)  # type: ignore[arg-type]


def test_rto_is_the_middle_of_the_recovery_interval() -> None:
    result = measure([1, 0, 0, 0, 0, 1, 1, 1, 1] + [1] * 22)
    # last failing sample at 4 s, first good at 5 s, scrape 1 s: recovery in (3 s, 5 s]
    assert result.seconds == pytest.approx(4.0)
    assert result.uncertainty_seconds == pytest.approx(1.0)
    assert result.time_to_detect_seconds == pytest.approx(1.0)
    assert result.recovered_at == sec(5)


def test_a_coarser_scrape_interval_widens_the_uncertainty() -> None:
    result = measure([1, 0, 0, 0, 0, 1, 1, 1, 1] + [1] * 22, scrape_interval_s=3.0)
    # recovery in (4 - 3, 5] = (1, 5]
    assert result.seconds == pytest.approx(3.0)
    assert result.uncertainty_seconds == pytest.approx(2.0)


def test_hold_is_measured_to_the_start_of_the_run_that_held() -> None:
    values = [0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1] + [1] * 20
    result = measure(values, hold=3)
    assert result.recovered_at == sec(7)
    assert [o.seconds for o in result.outages] == [2.0, 3.0]


def test_a_run_cut_by_the_window_end_before_hold_is_missed() -> None:
    result = measure([0] * 28 + [1, 1, 1], hold=5)
    assert result.status is Status.MISSED and result.seconds is None
    assert result.outages[0].end == sec(28)


def test_an_sli_that_never_failed_has_rto_zero() -> None:
    result = measure([1] * 31)
    assert result.seconds == 0.0
    assert result.time_to_detect_seconds is None
    assert "never failed" in result.explanation


def test_nan_counts_as_failing() -> None:
    result = measure([math.nan, math.nan, 1, 1, 1, 1] + [1] * 25)
    assert result.recovered_at == sec(2)


def test_a_short_hole_is_tolerated_and_a_long_one_is_inconclusive() -> None:
    # samples two steps apart (one point missing) are fine; three apart are a gap
    tolerated = measure([0, 0, None, 0, 1, 1, 1, 1] + [1] * 23)
    assert tolerated.status is Status.NO_OBJECTIVE
    hole = measure([0, 0, None, None, 0, 1, 1, 1, 1] + [1] * 22)
    assert hole.status is Status.INCONCLUSIVE and hole.seconds is None
    late_start = measure([None, None, None, 1, 1, 1, 1] + [1] * 24)
    assert late_start.status is Status.INCONCLUSIVE


def test_a_hole_after_recovery_does_not_matter() -> None:
    result = measure([0, 0, 1, 1, 1, 1] + [None] * 10 + [1] * 15)
    assert result.status is Status.NO_OBJECTIVE and result.recovered_at == sec(2)


def test_rto_verdicts_and_json_keys() -> None:
    result = measure([1, 0, 0, 0, 0, 1, 1, 1, 1] + [1] * 22, failover_done=sec(2.5))
    met, missed = result.judged(5.0), result.judged(3.0)
    assert (met.status, met.met, missed.status, missed.met) == (
        Status.MET,
        True,
        Status.MISSED,
        False,
    )
    assert (
        "closer to the objective than the uncertainty"
        in measure([1, 0, 0, 0, 0, 1, 1, 1, 1] + [1] * 22).judged(4.5).explanation
    )
    doc = json.loads(json.dumps(met.to_json()))
    assert set(doc) == {
        "seconds",
        "objectiveSeconds",
        "met",
        "status",
        "method",
        "uncertaintySeconds",
        "explanation",
        "details",
    }
    assert {
        "timeToDetectSeconds",
        "timeToFailoverSeconds",
        "outages",
        "holdSeconds",
        "stepSeconds",
    } <= set(doc["details"])
    assert doc["details"]["timeToFailoverSeconds"] == 2.5
    assert doc["details"]["outages"][0] == {
        "start": "2026-03-01T12:00:01.000Z",
        "end": "2026-03-01T12:00:05.000Z",
        "seconds": 4.0,
    }
    assert "\n" not in doc["explanation"]
    assert RtoResult.from_json(doc) == met


def test_lag_is_the_maximum_over_all_series_in_the_lookback() -> None:
    a = series([0.1, 0.2, 0.9, 0.1], step=5, start=-15)
    b = series([0.3, 2.5, 0.1, 0.1], step=5, start=-15)
    later = series([9.0], start=5)  # after fault start: ignored
    lag = rpo.measure_lag([a, b, later], fault_start=F, lookback_s=15, step_s=5)
    assert lag.problem is None and lag.seconds == 2.5 and lag.at == sec(-10)
    nothing = rpo.measure_lag([], fault_start=F, lookback_s=15, step_s=5)
    assert nothing.problem is not None
    result = rpo.combine(lag=nothing, canary=None, step_s=5)
    assert result.status is Status.INCONCLUSIVE and result.seconds is None


def test_canary_loss_and_inconclusive_without_present_data() -> None:
    ack = series([100, 110, 120], step=5, start=-10)
    present = series([115, 115], step=5, start=20)
    canary = rpo.measure_canary(
        acknowledged=[ack],
        present=[present],
        fault_start=F,
        failover_done=sec(15),
        window_end=sec(30),
    )
    assert canary.lost_writes == 5 and canary.window_seconds is None
    result = rpo.combine(lag=None, canary=canary, step_s=5).judged(None, 10)
    assert result.status is Status.MET and result.seconds is None
    assert result.judged(2.0, None).status is Status.INCONCLUSIVE  # no time measure for seconds

    empty = rpo.measure_canary(
        acknowledged=[ack], present=[], fault_start=F, failover_done=sec(15), window_end=sec(30)
    )
    assert empty.lost_writes is None and empty.problem is not None
    assert rpo.combine(lag=None, canary=empty, step_s=5).judged(None, 0).met is None


def test_rpo_json_round_trip() -> None:
    lag = rpo.measure_lag(
        [series([0.5, 1.5], step=5, start=-5)], fault_start=F, lookback_s=5, step_s=5
    )
    result = rpo.combine(lag=lag, canary=None, step_s=5).judged(1.0, None)
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["status"] == "missed" and doc["method"] == "lag" and doc["seconds"] == 1.5
    assert doc["details"]["lag"]["seconds"] == 1.5 and doc["details"]["canary"] is None
    assert RpoResult.from_json(doc) == result


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
