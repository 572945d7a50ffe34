"""Benchmark: measuring a one-hour drill costs few requests and little time.

Backfills one hour of a drill (1 s resolution, five expressions: the SLI, replication lag,
canary acknowledged/present, an error ratio) into a real Prometheus, then runs what a
drill runs: resolve the step, steady state before, guardrails over the drill, RTO + RPO,
steady state after. Asserts at most 20 HTTP requests and under 2 s of wall time for the
measuring (Prometheus start and backfill excluded).

Run: .venv/bin/python benchmarks/measure_requests.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.measure import collect
from runner.prom import PrometheusClient
from runner.scenario import model
from tests.infra.prometheus import OpenMetrics, PrometheusServer

MAX_REQUESTS = 20
MAX_SECONDS = 2.0
T0 = 1767225600  # 2026-01-01T00:00:00Z: the drill hour starts here
FAULT = T0 + 1200  # fault at 20 min; 3 min outage; failover done at 1 min


def history() -> str:
    om = OpenMetrics()
    hour = range(T0, T0 + 3600)
    om.add("bench_sli", [(t, 0.0 if FAULT + 2 <= t < FAULT + 180 else 1.0) for t in hour])
    om.add("bench_lag_seconds", [(t, 2.0 if FAULT - 8 <= t < FAULT else 0.1) for t in hour])
    om.add("bench_canary_ack", [(t, float(10 * (t - T0))) for t in hour if t <= FAULT])
    om.add(
        "bench_canary_present", [(t, float(10 * (FAULT - T0) - 25)) for t in hour if t > FAULT + 60]
    )
    om.add("bench_error_ratio", [(t, 0.5 if FAULT <= t < FAULT + 180 else 0.001) for t in hour])
    return om.text()


def spec() -> model.ScenarioSpec:
    return model.ScenarioSpec.model_validate(
        {
            "clusters": [{"name": "east"}],
            "faults": [
                {"name": "loss", "type": "cluster-loss", "cluster": "east", "duration": "3m"}
            ],
            "steadyState": [
                {"name": "sli", "query": "bench_sli", "expect": ">= 1", "window": "5m"}
            ],
            "guardrails": [
                {"name": "errors", "query": "bench_error_ratio", "abortWhen": "> 0.4", "for": "30s"}
            ],
            "measure": {
                "rto": {"sli": "bench_sli", "upWhen": ">= 1", "hold": "1m"},
                "rpo": {
                    "lag": {"query": "bench_lag_seconds", "lookback": "1m"},
                    "canary": {
                        "acknowledged": "bench_canary_ack",
                        "present": "bench_canary_present",
                    },
                },
            },
            "objectives": {"rto": "5m", "rpo": "5s", "maxLostWrites": 100},
            "timeouts": {"recovery": "15m"},
        }
    )


def main() -> int:
    at = lambda s: datetime.fromtimestamp(s, tz=UTC)  # noqa: E731
    scenario = spec()
    with (
        tempfile.TemporaryDirectory() as work,
        PrometheusServer(
            Path(work), scrape_interval="1s", backfill_openmetrics=history()
        ) as server,
    ):
        prom = PrometheusClient(server.url)
        began = time.perf_counter()
        step = collect.resolve_step(prom, None)
        before = collect.steady_state(prom, scenario.steady_state, end=at(FAULT), step_s=step)
        window_end = at(FAULT) + scenario.timeouts.recovery
        guards = collect.guardrails(
            prom, scenario.guardrails, start=at(FAULT), end=window_end, step_s=step
        )
        measured = collect.measure(
            prom,
            scenario,
            fault_start=at(FAULT),
            failover_done=at(FAULT + 60),
            window_end=window_end,
            step_s=step,
            scrape_interval_s=step,
        )
        after = collect.steady_state(prom, scenario.steady_state, end=at(T0 + 3599), step_s=step)
        elapsed = time.perf_counter() - began
        requests = prom.requests_made
        prom.close()
    assert measured.rto is not None and measured.rpo is not None
    print(
        f"step {step:g}s; steady state before {[c.passed for c in before]},"
        f" after {[c.passed for c in after]}; guardrails breached {[g.breached for g in guards]}"
    )
    rto, rpo = measured.rto, measured.rpo
    lost = rpo.canary.lost_writes if rpo.canary else None
    print(f"RTO {rto.seconds}s ({rto.status}); RPO {rpo.seconds}s ({rpo.status}); lost {lost}")
    print(f"{requests} HTTP requests in {elapsed:.3f}s (limits: {MAX_REQUESTS}, {MAX_SECONDS}s)")
    ok = requests <= MAX_REQUESTS and elapsed < MAX_SECONDS
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
