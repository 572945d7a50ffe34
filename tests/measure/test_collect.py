"""RTO, RPO, steady state and guardrails measured from a real Prometheus (backfilled history)."""

from __future__ import annotations

import json

import pytest

from runner.measure import collect
from runner.measure.evidence import Measurements
from runner.measure.results import Status
from runner.prom import PrometheusClient
from runner.scenario import model
from tests.measure import history
from tests.measure.conftest import make_spec

pytestmark = pytest.mark.prometheus
STEP = float(history.RES)


def rto_spec(sli: str, *, hold: str = "30s", objective: str | None = "2m") -> model.ScenarioSpec:
    objectives = {"rto": objective} if objective else {}
    return make_spec(
        measure={"rto": {"sli": sli, "upWhen": ">= 1", "hold": hold}}, objectives=objectives
    )


def measure(prom: PrometheusClient, spec: model.ScenarioSpec) -> Measurements:
    return collect.measure(
        prom,
        spec,
        fault_start=history.FAULT_START,
        failover_done=history.at(30),
        window_end=history.WINDOW_END,
        step_s=STEP,
    )


def test_clean_outage_rto_is_the_recovery_time(prom: PrometheusClient) -> None:
    rto = measure(prom, rto_spec('drill_sli{case="clean"}')).rto
    assert rto is not None
    # last down sample at F+60, first up at F+65: recovery in (F+55, F+65]
    assert rto.seconds == pytest.approx(60.0)
    assert rto.uncertainty_seconds == pytest.approx(5.0)
    assert rto.status is Status.MET and rto.met is True
    assert rto.time_to_detect_seconds == pytest.approx(5.0)
    assert rto.time_to_failover_seconds == pytest.approx(30.0)
    assert [o.seconds for o in rto.outages] == [pytest.approx(60.0)]
    assert rto.outages[0].start == history.at(5)


def test_a_blip_shorter_than_hold_does_not_count(prom: PrometheusClient) -> None:
    rto = measure(prom, rto_spec('drill_sli{case="flapping"}')).rto
    assert rto is not None
    assert rto.recovered_at == history.at(85)
    assert rto.seconds == pytest.approx(80.0)
    assert len(rto.outages) == 2


def test_the_blip_counts_when_hold_is_shorter_than_it(prom: PrometheusClient) -> None:
    rto = measure(prom, rto_spec('drill_sli{case="flapping"}', hold="10s")).rto
    assert rto is not None
    assert rto.recovered_at == history.at(45)


def test_never_recovered_is_missed_with_no_seconds(prom: PrometheusClient) -> None:
    rto = measure(prom, rto_spec('drill_sli{case="never"}', objective=None)).rto
    assert rto is not None
    assert rto.seconds is None
    assert rto.status is Status.MISSED and rto.met is False
    assert rto.outages[0].end is None


def test_gaps_before_recovery_are_inconclusive(prom: PrometheusClient) -> None:
    rto = measure(prom, rto_spec('drill_sli{case="gap"}')).rto
    assert rto is not None
    assert rto.status is Status.INCONCLUSIVE
    assert rto.met is None and rto.seconds is None
    assert "gap" in rto.explanation


def test_several_series_must_be_aggregated(prom: PrometheusClient) -> None:
    bare = measure(prom, rto_spec('drill_multi{case="multi"}')).rto
    assert bare is not None
    assert bare.status is Status.INCONCLUSIVE
    assert "2 series" in bare.explanation and "aggregate" in bare.explanation

    rto = measure(prom, rto_spec('min(drill_multi{case="multi"})')).rto
    assert rto is not None
    assert rto.status is Status.MET
    assert rto.seconds == pytest.approx(50.0)


def test_no_data_is_inconclusive(prom: PrometheusClient) -> None:
    rto = measure(prom, rto_spec("drill_metric_that_does_not_exist")).rto
    assert rto is not None
    assert rto.status is Status.INCONCLUSIVE
    assert "no data" in rto.explanation


def test_lag_spike_before_the_fault_is_the_rpo(prom: PrometheusClient) -> None:
    spec = make_spec(
        measure={"rpo": {"lag": {"query": 'drill_lag_seconds{case="spike"}', "lookback": "1m"}}},
        objectives={"rpo": "5s"},
    )
    rpo = measure(prom, spec).rpo
    assert rpo is not None and rpo.lag is not None
    assert rpo.seconds == pytest.approx(3.5)
    assert rpo.lag.at == history.at(-10)
    assert rpo.status is Status.MET


def test_canary_counts_lost_writes_and_the_time_window(prom: PrometheusClient) -> None:
    spec = make_spec(
        measure={
            "rpo": {
                "lag": {"query": 'drill_lag_seconds{case="spike"}', "lookback": "1m"},
                "canary": {
                    "acknowledged": 'drill_canary_ack{case="loss"}',
                    "present": 'drill_canary_present{case="loss"}',
                    "acknowledgedTime": 'drill_canary_ack_time{case="loss"}',
                    "presentTime": 'drill_canary_present_time{case="loss"}',
                },
            }
        },
        objectives={"rpo": "3s", "maxLostWrites": 0},
    )
    rpo = measure(prom, spec).rpo
    assert rpo is not None and rpo.canary is not None
    assert rpo.canary.lost_writes == 20
    assert rpo.canary.ack_seq == 12_000 and rpo.canary.present_seq == 11_980
    assert rpo.canary.window_seconds == pytest.approx(2.0)
    assert rpo.seconds == pytest.approx(3.5)  # the larger of lag 3.5 s and canary 2 s
    assert rpo.method == "lag+canary"
    assert rpo.status is Status.MISSED  # 3.5 s > 3 s and 20 lost writes > 0
    doc = rpo.to_json()
    assert doc["details"]["canary"]["lostWrites"] == 20


def test_measurements_are_stored_and_remeasured_without_prometheus(
    prom: PrometheusClient,
) -> None:
    spec = rto_spec('drill_sli{case="clean"}', objective="2m")
    stored = json.loads(json.dumps(measure(prom, spec).to_json()))
    assert stored["inputs"]["series"]["rto.sli"]["query"] == 'drill_sli{case="clean"}'

    stricter = rto_spec('drill_sli{case="clean"}', objective="30s")
    again = collect.remeasure(stored, stricter)
    assert again.rto is not None
    assert again.rto.seconds == pytest.approx(60.0)
    assert again.rto.status is Status.MISSED


def test_steady_state_pass_fail_and_no_data(prom: PrometheusClient) -> None:
    checks = [
        model.SteadyStateCheck(
            name="ok", query='drill_avail{case="steady"}', expect=">= 1", window="1m"
        ),
        model.SteadyStateCheck(
            name="dip", query='drill_avail{case="dip"}', expect=">= 1", window="1m"
        ),
        model.SteadyStateCheck(name="none", query="drill_nothing_here", expect=">= 1", window="1m"),
    ]
    ok, dip, none = collect.steady_state(prom, checks, end=history.FAULT_START, step_s=STEP)
    assert ok.passed and ok.samples == 13
    assert not dip.passed
    assert dip.first_violation_value == 0.5 and dip.first_violation_at == history.at(-20)
    assert not none.passed and none.reason == "no data"


def test_guardrail_breach_reports_value_and_time(prom: PrometheusClient) -> None:
    slow = model.Guardrail.model_validate(
        {
            "name": "errors",
            "query": 'drill_error_ratio{case="breach"}',
            "abortWhen": "> 0.1",
            "for": "20s",
        }
    )
    fast = model.Guardrail.model_validate(
        {"name": "errors-now", "query": 'drill_error_ratio{case="breach"}', "abortWhen": "> 0.1"}
    )
    calm = model.Guardrail.model_validate(
        {"name": "calm", "query": 'drill_error_ratio{case="breach"}', "abortWhen": "> 0.5"}
    )
    slow_r, fast_r, calm_r = collect.guardrails(
        prom, [slow, fast, calm], start=history.FAULT_START, end=history.WINDOW_END, step_s=STEP
    )
    assert slow_r.breached
    assert slow_r.value == pytest.approx(0.3)
    assert slow_r.at == history.at(80) and slow_r.since == history.at(60)
    assert fast_r.breached and fast_r.at == history.at(20) and fast_r.value == pytest.approx(0.2)
    assert not calm_r.breached


def test_resolve_step_uses_the_scrape_interval(prom: PrometheusClient) -> None:
    assert collect.resolve_step(prom, None) == 5.0
    assert collect.resolve_step(prom, 1.0) == 1.0
    assert collect.resolve_step(prom, 60.0) == 5.0  # never coarser than the scrape interval
