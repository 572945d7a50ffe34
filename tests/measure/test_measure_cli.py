"""`drillctl measure` against the backfilled history: the engine's numbers over any window,
the verdict as the exit code, and clear errors for bad times."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.cli.measure import parse_time
from runner.measure import collect
from runner.prom import PrometheusClient
from tests.infra.prometheus import PrometheusServer
from tests.measure import history
from tests.measure.conftest import make_spec

pytestmark = pytest.mark.prometheus

SCENARIO = """apiVersion: drill-runner.dev/v1alpha1
kind: Scenario
metadata: {name: history}
spec:
  clusters: [{name: east}]
  faults: [{name: loss, type: cluster-loss, cluster: east, duration: 1m}]
  measure:
    rto: {sli: 'drill_sli{case="clean"}', upWhen: ">= 1", hold: 30s}
  objectives: {rto: OBJECTIVE}
"""
DRILL = """apiVersion: drill-runner.dev/v1alpha1
kind: Drill
metadata: {name: history}
spec:
  scenarios: [{path: scenario.yaml}]
  targets:
    east: {kubernetes: {context: unused-by-measure}}
  prometheus: {url: URL}
"""


def files(tmp_path: Path, url: str, objective: str) -> tuple[Path, Path]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO.replace("OBJECTIVE", objective))
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL.replace("URL", url))
    return scenario, drill


def drillctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", "measure", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def iso(offset: float) -> str:
    return history.at(offset).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("objective", "code", "status"),
    [("2m", 0, "met"), ("30s", 1, "missed"), ("62s", 3, "inconclusive")],
)
def test_measure_gives_the_engines_result_and_its_verdict_as_exit_code(
    tmp_path: Path,
    history_prometheus: PrometheusServer,
    prom: PrometheusClient,
    objective: str,
    code: int,
    status: str,
) -> None:
    scenario, drill = files(tmp_path, history_prometheus.url, objective)
    done = drillctl(
        str(scenario),
        "--drill",
        str(drill),
        "--from",
        iso(0),
        "--failover-done",
        iso(30),
        "--until",
        iso(600),
        "-o",
        "json",
    )
    assert done.returncode == code, done.stderr
    data = json.loads(done.stdout)
    rto = data["measurements"]["rto"]
    assert (rto["lowerSeconds"], rto["upperSeconds"], rto["status"]) == (60.0, 65.0, status)
    spec = make_spec(
        measure={"rto": {"sli": 'drill_sli{case="clean"}', "upWhen": ">= 1", "hold": "30s"}},
        objectives={"rto": objective},
    )
    engine = collect.measure(
        prom,
        spec,
        fault_start=history.at(0),
        failover_done=history.at(30),
        window_end=history.at(600),
        step_s=5.0,
    )
    assert engine.rto is not None and engine.rto.to_json() == rto
    assert data["window"] == {
        "from": "2025-06-01T00:30:00.000Z",
        "failoverDone": "2025-06-01T00:30:30.000Z",
        "until": "2025-06-01T00:40:00.000Z",
    }

    text = drillctl(str(scenario), "--drill", str(drill), "--from", iso(0), "--until", iso(600))
    assert text.returncode == code
    assert "RTO" in text.stdout and "60–65s" in text.stdout


def test_relative_times_read_the_recent_past(
    tmp_path: Path, history_prometheus: PrometheusServer
) -> None:
    scenario, drill = files(tmp_path, history_prometheus.url, "2m")
    done = drillctl(
        str(scenario), "--drill", str(drill), "--from", "-10m", "--until", "now", "-o", "json"
    )
    # nothing was recorded in the last ten minutes: inconclusive, never a pass
    assert done.returncode == 3, done.stderr
    data = json.loads(done.stdout)
    assert data["measurements"]["rto"]["outcome"] == "no-data"
    start = datetime.fromisoformat(data["window"]["from"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - start).total_seconds() - 600) < 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "is not a time"),
        (["--from", "2026-01-01T00:00:00"], "has no time zone"),
        (["--from", "-2x"], "is not a time"),
        (["--from", "-1h", "--until", "+1h"], "is not a time"),
        (["--from", "-1h", "--until", "2999-01-01T00:00:00Z"], "is in the future"),
        (["--from", "-1h", "--until", "-2h"], "must start before it ends"),
        (["--from", "-1h", "--failover-done", "-3h"], "between --from and --until"),
    ],
)
def test_bad_times_are_clear_errors_with_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    scenario, drill = files(tmp_path, "http://127.0.0.1:1", "2m")
    done = drillctl(str(scenario), "--drill", str(drill), *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_time_forms() -> None:
    now = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    assert parse_time("now", now=now) == now
    assert parse_time("-2h", now=now) == now - timedelta(hours=2)
    assert parse_time("-1h30m", now=now) == now - timedelta(minutes=90)
    assert parse_time("-500ms", now=now) == now - timedelta(milliseconds=500)
    assert parse_time("2026-11-29T21:00:00+01:00", now=now) == now
    assert parse_time("2026-11-29T20:00:00.250Z", now=now) == now + timedelta(milliseconds=250)
    assert parse_time("1795982400", now=now) == now
