"""Benchmark: verification cost is linear in the recovery time, with constant-size requests.

Backfills a drill with a 6-hour recovery at 1 s resolution (the SLI down from the fault
until F + 6 h, then healthy; replication lag; canary acknowledged and missing) into a real
Prometheus, then verifies it as the engine does: `Verification.poll` every 2 s of the
history from the fault to the recovery plus hold (each poll reads only what is new), then
`finish` (the last SLI samples and the RPO reads). The SLI is read twice, as a plain
selector (raw samples) and as a compound expression (grid + `timestamp()`).

Prints, for each: polls, HTTP requests, response bytes per poll (first, median, largest),
the final measurement's requests, client CPU time and wall time; and what re-measuring the
whole window on every poll (measurement v1) would have read. Asserts one request per poll
per query (plain) or two (compound), at most 10 for the final measurement, the largest poll
response <= 2x the median (constant size), and the CPU of a poll in the last hour <= 2x that
in the first (+1 ms): linear in the recovery time.

Run: .venv/bin/python benchmarks/measure_requests.py [--hours 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.engine.prometheus_metrics import PrometheusMetrics
from runner.measure.reader import SETTLE
from runner.measure.results import RtoOutcome
from runner.prom import PrometheusClient
from runner.scenario import model
from tests.infra.prometheus import OpenMetrics, PrometheusServer

POLL = 2.0
HOLD = 60
T0 = 1767225600  # 2026-01-01T00:00:00Z


def history(fault: int, hours: float) -> str:
    om = OpenMetrics()
    end = fault + int(hours * 3600) + HOLD + 300
    span = range(fault - 900, end)
    recovered = fault + int(hours * 3600)
    om.add("bench_sli", [(t, 0.0 if fault + 2 <= t < recovered else 1.0) for t in span])
    om.add("bench_lag_seconds", [(t, 0.3) for t in span if t <= fault])
    om.add("bench_canary_ack", [(t, float(min(10 * (t - T0), 10 * (fault - T0)))) for t in span])
    om.add("bench_canary_missing", [(t, 25.0) for t in span if t > fault + 60])
    return om.text()


def spec(sli: str) -> model.ScenarioSpec:
    return model.ScenarioSpec.model_validate(
        {
            "clusters": [{"name": "east"}],
            "faults": [
                {"name": "loss", "type": "cluster-loss", "cluster": "east", "duration": "7h"}
            ],
            "measure": {
                "rto": {"sli": sli, "upWhen": ">= 1", "hold": f"{HOLD}s"},
                "rpo": {
                    "lag": {"query": "bench_lag_seconds", "lookback": "1m"},
                    "canary": {
                        "acknowledged": "bench_canary_ack",
                        "missing": "bench_canary_missing",
                    },
                },
            },
            "objectives": {"rto": "7h", "rpo": "5s", "maxLostWrites": 100},
            "timeouts": {"recovery": "7h"},
        }
    )


def verify(prom: PrometheusClient, sli: str, fault: datetime, hours: float) -> dict[str, float]:
    metrics = PrometheusMetrics(prom)
    verifier = metrics.verification(spec(sli), fault_start=fault, fault_requested=None)
    sizes: list[int] = []
    polls = 0
    requests0, cpu0, wall0 = prom.requests_made, time.process_time(), time.perf_counter()
    now = fault + timedelta(seconds=POLL)
    stop = fault + timedelta(seconds=hours * 3600 + HOLD + 10)
    done = False
    cpu_per_poll: list[float] = []
    while now <= stop and not done:
        before, cpu_before = prom.bytes_received, time.process_time()
        done = verifier.poll(now).done
        cpu_per_poll.append(time.process_time() - cpu_before)
        sizes.append(prom.bytes_received - before)
        polls += 1
        now += timedelta(seconds=POLL)
    poll_requests = prom.requests_made - requests0
    final0 = prom.requests_made
    result = verifier.finish(now, failover_done=fault + timedelta(seconds=60))
    final = prom.requests_made - final0
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert result.rto is not None and result.rto.outcome is RtoOutcome.RECOVERED, result.rto
    assert result.rpo is not None and result.rpo.canary is not None
    assert result.rpo.canary.lost_writes == 25
    window = (now - fault).total_seconds()
    v1_points = sum((i + 1) * POLL for i in range(polls))  # each v1 poll re-read F..now at 1 s
    v2_points = polls * (POLL + SETTLE / 1000)  # each v2 poll reads what is new + the margin
    return {
        "polls": polls,
        "poll_requests": poll_requests,
        "final_requests": final,
        "first": sizes[0],
        "median": statistics.median(sizes),
        "largest": max(sizes[1:]),
        "cpu": cpu,
        "wall": wall,
        "rto_upper": result.rto.bounds.upper if result.rto.bounds else float("nan"),
        "window": window,
        "v1_points": v1_points,
        "v2_points": v2_points,
        "cpu_first_hour": statistics.mean(cpu_per_poll[:1800]) * 1000,
        "cpu_last_hour": statistics.mean(cpu_per_poll[-1800:]) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=6.0)
    args = parser.parse_args()
    fault_s = T0 + 3600
    fault = datetime.fromtimestamp(fault_s, tz=UTC)
    ok = True
    with tempfile.TemporaryDirectory() as work:
        began = time.perf_counter()
        server = PrometheusServer(
            Path(work), scrape_interval="1s", backfill_openmetrics=history(fault_s, args.hours)
        )
        with server:
            print(
                f"backfilled {args.hours:g} h at 1 s and started Prometheus in"
                f" {time.perf_counter() - began:.1f}s"
            )
            for label, sli, per_poll in (
                ("plain selector (raw samples)", "bench_sli", 1),
                ("compound min() (grid + timestamp())", "min(bench_sli)", 2),
            ):
                prom = PrometheusClient(server.url, retry_max_wait=0)
                r = verify(prom, sli, fault, args.hours)
                prom.close()
                print(
                    f"\n{label}: RTO upper bound {r['rto_upper']:.0f}s"
                    f" ({r['window'] / 3600:.2f} h window)"
                )
                print(
                    f"  polls every {POLL:g}s: {r['polls']:.0f}; requests"
                    f" {r['poll_requests']:.0f} ({r['poll_requests'] / r['polls']:.2f}/poll);"
                    f" final measurement {r['final_requests']:.0f} requests"
                )
                print(
                    f"  response bytes per poll: first {r['first']:.0f}, median"
                    f" {r['median']:.0f}, largest after the first {r['largest']:.0f}"
                )
                print(
                    f"  client CPU {r['cpu']:.1f}s, wall {r['wall']:.1f}s; CPU per poll"
                    f" {r['cpu_first_hour']:.1f} ms in the first hour,"
                    f" {r['cpu_last_hour']:.1f} ms in the last"
                )
                print(
                    f"  points read per SLI query: v2 about {r['v2_points']:,.0f} (constant per"
                    f" poll); v1 (whole window each poll) {r['v1_points']:,.0f}"
                )
                ok &= r["poll_requests"] <= per_poll * r["polls"] + 1
                ok &= r["final_requests"] <= 10
                ok &= r["largest"] <= 2 * r["median"]
                ok &= r["cpu_last_hour"] <= 2 * r["cpu_first_hour"] + 1
    print("\nOK" if ok else "\nFAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
