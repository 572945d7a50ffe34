"""The metrics' content, and /metrics, /healthz and /readyz over real HTTP."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from runner.clock import FakeClock
from runner.engine.verdict import Status
from runner.scheduler import events as ev
from runner.scheduler.endpoints import Endpoints
from runner.scheduler.exposition import SchedulerMetrics
from tests.scheduler.conftest import T0, FakeRuns, write_drill
from tests.scheduler.test_service import service

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def scenario(status: str, at_offset: float, rto: float | None) -> ev.ScenarioRunFinished:
    return ev.ScenarioRunFinished(
        drill="nightly",
        at=T0 + timedelta(seconds=at_offset),
        scenario="site-loss",
        run_id="r1",
        status=status,
        reason="",
        started_at=T0,
        rto_seconds=rto,
        rto_objective_seconds=300.0,
        rpo_seconds=3.5,
        rpo_objective_seconds=30.0,
    )


def test_metric_content_per_scenario_and_drill() -> None:
    m = SchedulerMetrics()
    m(
        ev.DrillRunStarted(
            drill="nightly",
            at=T0,
            scheduled_for=T0,
            trigger=ev.Trigger.SCHEDULE,
            scenarios=("site-loss",),
        )
    )
    assert value(samples(m.render().decode()), "drill_runner_drill_running", drill="nightly") == 1
    first = scenario("passed", 60, 42.0)
    m(first)
    m(
        ev.DrillRunFinished(
            drill="nightly",
            at=first.at,
            scheduled_for=T0,
            trigger=ev.Trigger.SCHEDULE,
            status="passed",
            results=(first,),
        )
    )
    second = scenario("failed", 120, None)
    m(second)
    m(
        ev.DrillRunSkipped(
            drill="nightly",
            at=T0 + timedelta(days=1),
            scheduled_for=T0,
            trigger=ev.Trigger.SCHEDULE,
            reason="blackout",
            detail="freeze",
        )
    )
    m.set_next_runs({"nightly": T0 + timedelta(days=2), "paused": None})
    found = samples(m.render().decode())
    sl = {"drill": "nightly", "scenario": "site-loss"}
    assert value(found, "drill_runner_scenario_last_run_timestamp_seconds", **sl) == (
        T0.timestamp() + 120
    )
    assert value(found, "drill_runner_scenario_last_status", **sl, status="failed") == 1
    assert value(found, "drill_runner_scenario_last_status", **sl, status="passed") == 0
    assert value(found, "drill_runner_scenario_runs_total", **sl, status="passed") == 1
    assert value(found, "drill_runner_scenario_runs_total", **sl, status="failed") == 1
    assert math.isnan(value(found, "drill_runner_rto_seconds", **sl))  # unknown this time
    assert value(found, "drill_runner_rto_objective_seconds", **sl) == 300
    assert value(found, "drill_runner_rpo_seconds", **sl) == 3.5
    assert value(found, "drill_runner_rpo_objective_seconds", **sl) == 30
    assert value(found, "drill_runner_drill_last_status", drill="nightly", status="skipped") == 1
    assert value(found, "drill_runner_drill_runs_total", drill="nightly", status="passed") == 1
    assert value(found, "drill_runner_drill_runs_total", drill="nightly", status="skipped") == 1
    assert value(found, "drill_runner_drill_skips_total", drill="nightly", reason="blackout") == 1
    assert value(found, "drill_runner_drill_running", drill="nightly") == 0
    assert value(found, "drill_runner_drill_next_run_timestamp_seconds", drill="nightly") == (
        (T0 + timedelta(days=2)).timestamp()
    )
    assert not any(
        n == "drill_runner_drill_next_run_timestamp_seconds" and ("drill", "paused") in labels
        for n, labels in found
    )


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def test_endpoints_serve_the_service_metrics_health_and_readiness(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    write_drill(tmp_path)
    svc = service(tmp_path, runs, clock=clock)
    http = Endpoints(metrics=svc.metrics.render, ready=svc.ready, port=0).start()
    base = f"http://127.0.0.1:{http.port}"
    try:
        assert get(f"{base}/healthz")[0] == 200
        assert get(f"{base}/readyz")[:1] == (503,)
        assert "not loaded" in get(f"{base}/readyz")[2]
        svc.tick()
        assert get(f"{base}/readyz") == (200, "text/plain; charset=utf-8", "leader\n")
        runs.status = Status.FAILED
        svc.fire_now("nightly")
        code, ctype, body = get(f"{base}/metrics")
        assert code == 200 and ctype.startswith("text/plain; version=")
        found = samples(body)
        assert value(found, "drill_runner_scheduler_leader") == 1
        assert value(found, "drill_runner_scheduler_drills") == 1
        assert value(found, "drill_runner_scheduler_drill_file_errors") == 0
        assert value(found, "drill_runner_drill_last_status", drill="nightly", status="failed") == 1
        assert value(found, "drill_runner_rto_seconds", drill="nightly", scenario="site-loss") == 42
        assert "drill_runner_drill_next_run_timestamp_seconds" in body
        assert "python_gc" not in body  # its own registry, not the global one
        assert get(f"{base}/nope")[0] == 404
    finally:
        http.stop()
        svc.shutdown()
