"""The measurement conformance suite: adversarial histories with known truth.

Every case of `conformance.py` is backfilled with promtool into one real Prometheus and
measured through the engine's own path (`PrometheusMetrics.verification`, polled every
10 s of the case's history, then finished), then compared with:

* the oracle (`oracle.py`, written from docs/measurement.md, not from runner/measure):
  same outcome, status and bounds, to the millisecond;
* the world: never "met" when the truth misses the objective; the true value inside the
  reported bounds;
* itself: the one-shot `collect.measure` and `collect.remeasure` of the stored inputs give
  exactly the polled result (one time resolution everywhere).

Set DRILL_CONFORMANCE_TABLE=path to write the table (case, truth, measured, verdict).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.engine.prometheus_metrics import PrometheusMetrics
from runner.measure import collect
from runner.prom import PrometheusClient
from runner.scenario import model
from tests.infra.prometheus import PROMETHEUS, PrometheusServer
from tests.measure import conformance as cf
from tests.measure import oracle
from tests.measure.conformance import Case

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed"),
]
CASES = cf.all_cases()
ROWS: list[tuple[str, str, str, str, str, str]] = []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("conformance")
    with PrometheusServer(
        work, scrape_interval="5s", backfill_openmetrics=cf.openmetrics(CASES)
    ) as srv:
        yield srv
    target = os.environ.get("DRILL_CONFORMANCE_TABLE")
    if target:
        lines = [
            "| case | class | truth (world) | oracle | measured | verdict |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in sorted(ROWS)]
        Path(target).write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def client(server: PrometheusServer) -> Iterator[PrometheusClient]:
    c = PrometheusClient(server.url, retry_max_wait=0)
    yield c
    c.close()


def at(offset: float | None) -> datetime | None:
    if offset is None:
        return None
    return datetime.fromtimestamp(cf.F_S, tz=UTC) + timedelta(seconds=offset)


def spec_of(case: Case) -> model.ScenarioSpec:
    base: dict[str, Any] = {
        "clusters": [{"name": "east"}],
        "faults": [{"name": "loss", "type": "cluster-loss", "cluster": "east", "duration": "1m"}],
    }
    return model.ScenarioSpec.model_validate({**base, **case.spec})


def written(case: Case, metric: str) -> list[list[tuple[int, float]]]:
    """The samples written for `metric` in this case, one list per series, in ms."""
    return [
        [(cf.s(t), v) for t, v in points]
        for key, points in case.series.items()
        if key.partition("|")[0] == metric
    ]


def truth_rto(case: Case) -> oracle.RtoTruth:
    r = case.spec["measure"]["rto"]
    sli: str = r["sli"]
    f, w = cf.F, cf.s(case.window_end)
    lo, step = f - 300_000, cf.STEP
    if 'case="absent"' in sli:
        view = oracle.View(obs=[])
    elif sli.startswith("min("):
        view = oracle.view_aggregate(written(case, "drill_multi"), min, lo=lo, hi=w, step=step)
    elif sli.startswith("avg_over_time("):
        (samples,) = written(case, "drill_sli")
        view = oracle.view_avg_over_time(samples, 20_000, lo=lo, hi=w, step=step)
    elif sli.startswith("drill_multi"):
        return oracle.RtoTruth("no-data", "inconclusive")
    else:
        (samples,) = written(case, "drill_sli")
        view = oracle.view_selector(samples, lo, w)
    widening = 10_000 if r.get("sliWindow") == "10s" else 0
    widening += 20_000 if sli.startswith("avg_over_time(") else 0
    objective = model.ScenarioSpec.model_validate(
        {**spec_of(case).model_dump(by_alias=True, mode="json")}
    ).objectives.rto
    assert objective is not None
    return oracle.rto(
        view,
        healthy=lambda v: v >= 1,
        hold=int(spec_of(case).measure.rto.hold.total_seconds() * 1000),  # type: ignore[union-attr]
        f=f,
        w=w,
        objective=objective.total_seconds(),
        requested=None if case.requested is None else cf.s(case.requested),
        widening=widening,
    )


def truth_lag(case: Case) -> oracle.LagTruth:
    spec = spec_of(case)
    assert spec.measure.rpo is not None and spec.measure.rpo.lag is not None
    query = spec.measure.rpo.lag.query
    series = [] if 'case="none"' in query else written(case, "drill_lag_seconds")
    if query.startswith("max("):
        lo = cf.F - int(spec.measure.rpo.lag.lookback.total_seconds() * 1000) - 300_000
        view = oracle.view_aggregate(series, max, lo=lo, hi=cf.F, step=cf.STEP)
        samples = [(o.t, o.v) for o in view.obs]
    else:
        samples = [p for points in series for p in points]
    objective = spec.objectives.rpo
    assert objective is not None
    return oracle.lag(
        sorted(samples),
        f=cf.F,
        lookback=int(spec.measure.rpo.lag.lookback.total_seconds() * 1000),
        objective=objective.total_seconds(),
    )


def truth_canary(case: Case) -> oracle.CanaryTruth:
    spec = spec_of(case)
    assert spec.measure.rpo is not None and spec.measure.rpo.canary is not None
    c = spec.measure.rpo.canary

    def one(metric: str) -> list[tuple[int, float]]:
        found = written(case, metric)
        return found[0] if found else []

    assert spec.objectives.max_lost_writes is not None and spec.objectives.rpo is not None
    return oracle.canary(
        acknowledged=one("drill_canary_ack"),
        present=one("drill_canary_present") if c.present else None,
        missing=one("drill_canary_missing") if c.missing else None,
        ack_time=one("drill_canary_ack_time"),
        present_time=one("drill_canary_present_time"),
        f=cf.F,
        d=cf.s(case.failover_done or 0),
        w=cf.s(case.window_end),
        max_lost=spec.objectives.max_lost_writes,
        rpo_objective=spec.objectives.rpo.total_seconds(),
    )


def measure_polled(client: PrometheusClient, case: Case) -> tuple[Any, Any]:
    """Through the engine's seam, polled every 10 s of history, then finished."""
    spec = spec_of(case)
    fault_start = at(0)
    assert fault_start is not None
    fault_start += timedelta(microseconds=case.fault_start_us)
    metrics = PrometheusMetrics(client)
    assert metrics.step_seconds() == 5.0
    verifier = metrics.verification(
        spec, fault_start=fault_start, fault_requested=at(case.requested)
    )
    t = 10.0
    while t < case.window_end:
        verifier.poll(fault_start + timedelta(seconds=t))
        t += 10
    end = at(case.window_end)
    assert end is not None
    result = verifier.finish(
        end + timedelta(microseconds=case.fault_start_us), failover_done=at(case.failover_done)
    )
    return spec, result


def fmt(lower: float | None, upper: float | None) -> str:
    if lower is None:
        return "-"
    return f"[{lower:g}, {'∞' if upper is None else f'{upper:g}'}]"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_measurement_conforms(client: PrometheusClient, case: Case) -> None:
    spec, result = measure_polled(client, case)
    stored = result.stored
    record = {
        "rto": result.rto.to_json() if result.rto else None,
        "rpo": result.rpo.to_json() if result.rpo else None,
    }
    # strict JSON: no NaN or Infinity anywhere in what a record would hold
    json.loads(json.dumps({**record, "inputs": stored}, allow_nan=False))

    # one-shot and offline re-measurement give exactly the polled (live) result
    fault_start = at(0)
    assert fault_start is not None
    once = collect.measure(
        client,
        spec,
        fault_start=fault_start + timedelta(microseconds=case.fault_start_us),
        failover_done=at(case.failover_done),
        window_end=at(case.window_end) + timedelta(microseconds=case.fault_start_us),  # type: ignore[operator]
        step_s=5.0,
        fault_requested=at(case.requested),
    )
    again = collect.remeasure(stored, spec)
    for other in (once, again):
        assert (other.rto.to_json() if other.rto else None) == record["rto"]
        assert (other.rpo.to_json() if other.rpo else None) == record["rpo"]

    if case.kind == "rto":
        got = result.rto
        truth = truth_rto(case)
        objective = spec.objectives.rto.total_seconds()  # type: ignore[union-attr]
        lower = None if got.bounds is None else got.bounds.lower
        upper = None if got.bounds is None else got.bounds.upper
        ROWS.append(
            (
                case.name,
                case.cls,
                _real(case.real),
                f"{truth.status} {fmt(truth.lower, truth.upper)}",
                f"{got.outcome.value} {fmt(lower, upper)}",
                got.status.value,
            )
        )
        assert (got.outcome.value, got.status.value) == (truth.outcome, truth.status), (
            got.explanation
        )
        if truth.lower is not None:
            assert lower == pytest.approx(truth.lower, abs=1e-3), got.explanation
            assert (upper is None) == (truth.upper is None)
            if upper is not None:
                assert upper == pytest.approx(truth.upper, abs=1e-3), got.explanation
        if got.status.value == "met":
            assert case.real is not None and case.real <= objective, "a false pass"
        if case.real is not None and lower is not None and got.outcome.value != "not-recovered":
            assert lower - 1e-3 <= case.real <= (upper if upper is not None else 1e9) + 1e-3
    elif case.kind == "lag":
        got = result.rpo
        truth = truth_lag(case)
        lag = got.lag
        lower = None if lag.bounds is None else lag.bounds.lower
        upper = None if lag.bounds is None else lag.bounds.upper
        ROWS.append(
            (
                case.name,
                case.cls,
                _real(case.real),
                f"{truth.status} {fmt(truth.lower, truth.upper)}",
                f"lag {fmt(lower, upper)}",
                got.status.value,
            )
        )
        assert got.status.value == truth.status, got.explanation
        if truth.lower is not None:
            assert lower == pytest.approx(truth.lower, abs=1e-3)
            assert upper == pytest.approx(truth.upper, abs=1e-3)
        objective = spec.objectives.rpo.total_seconds()  # type: ignore[union-attr]
        if got.status.value == "met":
            assert case.real is not None and case.real <= objective, "a false pass"
        if lower is not None and case.real is not None:
            assert lower - 1e-3 <= case.real <= upper + 1e-3
    else:
        got = result.rpo
        truth = truth_canary(case)
        canary = got.canary
        ROWS.append(
            (
                case.name,
                case.cls,
                f"{case.real} lost",
                f"{truth.status} lost={truth.lost} window={truth.window}",
                f"lost={canary.lost_writes} window={canary.window_seconds}",
                got.status.value,
            )
        )
        assert got.status.value == truth.status, got.explanation
        assert canary.lost_writes == truth.lost
        if truth.window is not None:
            assert canary.window_seconds == pytest.approx(truth.window, abs=1e-3)
        if got.status.value == "met":
            assert canary.lost_writes == case.real
            assert case.real <= (spec.objectives.max_lost_writes or 0), "a false pass"


def _real(value: float | None) -> str:
    if value is None:
        return "-"
    return "never recovers" if value == float("inf") else f"{value:g}s"


def test_there_are_enough_cases_of_every_class() -> None:
    assert len(CASES) >= 40
    classes = " ".join(c.cls for c in CASES)
    for cls in ("1 ", "2 ", "3 ", "4", "5 ", "6a", "6b", "6c", "6d", "7a", "7b", "8 ", "9 "):
        assert cls in classes + " ", cls
