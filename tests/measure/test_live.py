"""A live drill in miniature: a real exporter goes down for ~4 s under a 1 s scrape."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.measure import collect
from runner.measure.results import Status
from runner.prom import PrometheusClient
from tests.infra.prometheus import PROMETHEUS, LiveExporter, PrometheusServer
from tests.measure.conftest import make_spec

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed"),
]


def wait_for_samples(client: PrometheusClient, expr: str, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.query(f"count_over_time({expr}[1m])", datetime.now(UTC))
        if found and found[0].value >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus did not scrape {count} samples of {expr} in {timeout}s")


def test_live_rto_lands_within_one_scrape_interval(tmp_path: Path) -> None:
    with LiveExporter() as exporter:
        available = exporter.gauge("drill_live_available")
        available.set(1)
        with PrometheusServer(
            tmp_path, scrape_targets=[exporter.target], scrape_interval="1s"
        ) as srv:
            client = PrometheusClient(srv.url, retry_max_wait=0)
            wait_for_samples(client, "drill_live_available", 2)

            fault_start = datetime.now(UTC)
            available.set(0)
            time.sleep(4.0)
            available.set(1)
            injected = (datetime.now(UTC) - fault_start).total_seconds()
            time.sleep(5.0)  # hold (2 s) plus two scrapes
            window_end = datetime.now(UTC)

            scrape = client.scrape_interval()
            step = collect.resolve_step(client, None)
            spec = make_spec(
                measure={"rto": {"sli": "drill_live_available", "upWhen": ">= 1", "hold": "2s"}},
                objectives={"rto": "10s"},
            )
            rto = collect.measure(
                client,
                spec,
                fault_start=fault_start,
                failover_done=None,
                window_end=window_end,
                step_s=step,
                scrape_interval_s=scrape,
            ).rto
            client.close()

    assert scrape == 1.0 and step == 1.0
    assert rto is not None and rto.seconds is not None, rto
    assert abs(rto.seconds - injected) <= 1.0, (rto.seconds, injected, rto.explanation)
    assert rto.uncertainty_seconds == pytest.approx(1.0)
    assert rto.status is Status.MET
    assert len(rto.outages) == 1
    assert rto.time_to_detect_seconds is not None and rto.time_to_detect_seconds <= 2.0
