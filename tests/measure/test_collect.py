"""Reading and re-measuring, steady state and guardrails, against a real Prometheus
(backfilled history). The RTO and RPO rules themselves: test_conformance.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.errors import ConfigurationError
from runner.measure import collect, timebase
from runner.measure.evidence import Measurements
from runner.measure.reader import Reader
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
    """The engine's one-shot measurement over the history's window."""
    return collect.measure(
        prom,
        spec,
        fault_start=history.FAULT_START,
        failover_done=history.at(30),
        window_end=history.WINDOW_END,
        step_s=STEP,
    )


def test_remeasure_applies_new_objectives_and_refuses_a_changed_query(
    prom: PrometheusClient,
) -> None:
    spec = rto_spec('drill_sli{case="clean"}', objective="2m")
    live = measure(prom, spec)
    stored = json.loads(json.dumps(live.to_json(), allow_nan=False))
    assert stored["inputs"]["series"]["rto.sli"]["query"] == 'drill_sli{case="clean"}'
    assert stored["inputs"]["series"]["rto.sli"]["mode"] == "raw"
    assert collect.remeasure(stored, spec).rto == live.rto

    stricter = collect.remeasure(stored, rto_spec('drill_sli{case="clean"}', objective="30s"))
    assert stricter.rto is not None and stricter.rto.status is Status.MISSED
    # last failing sample F+60, first healthy F+65
    assert stricter.rto.bounds is not None
    assert (stricter.rto.bounds.lower, stricter.rto.bounds.upper) == (60.0, 65.0)
    with pytest.raises(ConfigurationError, match="cannot be re-measured"):
        collect.remeasure(stored, rto_spec('drill_sli{case="flapping"}'))


def test_a_polled_reader_fetches_only_what_is_new(prom: PrometheusClient) -> None:
    start = timebase.ms(history.at(-300))
    raw = Reader(prom, 'drill_sli{case="clean"}', start=start, step=5000)
    grid = Reader(prom, 'min(drill_sli{case="clean"})', start=start, step=5000)
    sizes: list[int] = []
    for offset in range(0, 600, 10):
        before = prom.bytes_received
        raw.advance(timebase.ms(history.at(offset)))
        grid.advance(timebase.ms(history.at(offset)))
        sizes.append(prom.bytes_received - before)
    # after the first read, every poll reads the 10 s since the last one plus the settle
    # margin: the same size whatever the elapsed time
    assert max(sizes[2:]) <= 1.3 * min(sizes[2:]), sizes
    one_shot = Reader(prom, 'drill_sli{case="clean"}', start=start, step=5000)
    one_shot.advance(timebase.ms(history.at(590)))
    assert one_shot.histories() == raw.histories()
    (compound,) = grid.histories()
    (plain,) = raw.histories()
    # min() of one series: the grid values sit at the real sample times
    assert [t for t, _ in compound.points] == [t for t, _ in plain.points]


def test_a_compound_expression_is_placed_at_real_sample_times(prom: PrometheusClient) -> None:
    """The `gap` case was silent for 365 s: a plain range query repeats its last value for
    five minutes; the reader marks that stretch unknown instead."""
    start = timebase.ms(history.at(-60))
    reader = Reader(prom, 'max(drill_sli{case="gap"})', start=start, step=5000)
    reader.advance(timebase.ms(history.at(500)))
    (h,) = reader.histories()
    times = [t for t, _ in h.points]
    assert timebase.ms(history.at(30)) in times and timebase.ms(history.at(400)) in times
    assert not [t for t in times if timebase.ms(history.at(30)) < t < timebase.ms(history.at(400))]
    holes = h.holes(timebase.ms(history.at(0)), timebase.ms(history.at(500)))
    assert holes and holes[0][0] <= timebase.ms(history.at(40))


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


def test_inputs_stored_by_measurement_v1_are_refused_clearly() -> None:
    """A v1 record kept grid values only: re-measuring it would trust filled-in values."""
    fixtures = Path(__file__).resolve().parents[1] / "reports" / "fixtures"
    run = json.loads(
        (fixtures / "lab-region-failover-20261124-100307-2f5d" / "run.json").read_text()
    )
    spec = rto_spec("lab_probe_success")
    with pytest.raises(ConfigurationError, match="measurement v1"):
        collect.remeasure(run["measurementInputs"], spec)


@pytest.mark.parametrize(
    ("sli", "done_at"),
    [
        ('drill_sli{case="clean"}', 95),  # healthy from F+65, held 30 s
        ('drill_sli{case="never"}', None),  # never recovers
        ('drill_avail{case="steady"}', None),  # never fails: keep watching to the end
        ('min(drill_avail{case="steady"})', None),
    ],
)
def test_polls_beyond_the_poll_span_decide_as_the_whole_history_would(
    prom: PrometheusClient, sli: str, done_at: int | None
) -> None:
    """Polls measure only the last ten minutes; 900 s of polling must still stop exactly
    when recovery has held, and never for an SLI that never failed."""
    spec = rto_spec(sli)
    verification = collect.Verification(prom, spec, fault_start=history.FAULT_START, step_s=STEP)
    stopped = None
    for offset in range(5, 900, 5):
        result = verification.poll(history.at(offset))
        assert result is not None
        if result.outcome.value in ("recovered", "relapsed"):
            stopped = offset
            break
    assert stopped == done_at
    final = verification.finish(history.at(stopped or 895), failover_done=None).rto
    assert final is not None
    if done_at is not None:
        assert final.bounds is not None and (final.bounds.lower, final.bounds.upper) == (60, 65)
