"""The runs of a process that died are closed by the active scheduler, as `crashed`.

A real store (SQLite, PostgreSQL) holds the active row of a drill run whose process is
gone (a real process that has exited: its pid is dead), with the run record it left
saying `running`. The lab is not up, so its faults cannot be swept: the record must say
so. The end to end case with the lab and `kill -9` is in test_crash_lab.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from runner.clock import SystemClock
from runner.processes import start_time as process_start
from runner.scheduler import events as ev
from runner.scheduler.active import ActiveRuns
from runner.scheduler.firing import FiringSettings
from runner.scheduler.leader import SoleLeader
from runner.scheduler.service import SchedulerService, ServiceSettings
from runner.scheduler.tables import open_store
from tests.scheduler.conftest import Events, FakeRuns, write_drill
from tests.scheduler.receiver import receiving

NOTIFY = """\
  notifications:
    - name: oncall
      url: {env: DRILL_RECOVERY_TEST_HOOK}
      on: [failure]
"""


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_whose_process_died_is_closed_as_crashed_everywhere(
    tmp_path: Path, store_url: str, monkeypatch: object
) -> None:
    write_drill(tmp_path, "nightly", notifications=NOTIFY)
    results = tmp_path / "results"
    run_id = "site-loss-20260310-030000-beef"
    (results / run_id).mkdir(parents=True)
    pid = dead_pid()
    record = {"runId": run_id, "status": "running", "pid": pid, "host": socket.gethostname()}
    (results / run_id / "run.json").write_text(json.dumps(record))
    scheduled = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    ghost = ActiveRuns(open_store(store_url), identity="ghost", clock=SystemClock(), pid=pid)
    assert (
        ghost.claim(
            "nightly",
            trigger="schedule",
            scheduled_for=scheduled,
            drill_path=tmp_path / "drills" / "nightly.yaml",
            results_dir=results,
        )
        is None
    )
    ghost.started("nightly", "site-loss", run_id)
    ghost.engine.dispose()

    with receiving() as hook:
        monkeypatch.setenv("DRILL_RECOVERY_TEST_HOOK", f"{hook.url}/oncall")  # type: ignore[attr-defined]
        events = Events()
        runs = FakeRuns(SystemClock())  # type: ignore[arg-type]
        svc = SchedulerService(
            ServiceSettings(
                drills=tmp_path / "drills",
                store_url=store_url,
                firing=FiringSettings(results_dir=results),
            ),
            leader=SoleLeader("b"),
            clock=SystemClock(),
            run=runs,
            sinks=[events],
        )
        t0 = time.monotonic()
        svc.tick()
        deadline = time.monotonic() + 30
        while not events.of(ev.DrillRunFinished) and time.monotonic() < deadline:
            time.sleep(0.05)
        closed_in = time.monotonic() - t0
        [crashed] = events.of(ev.DrillRunFinished)
        assert crashed.status == "crashed" and crashed.trigger is ev.Trigger.SCHEDULE
        assert crashed.scheduled_for == scheduled
        [scenario] = crashed.results
        assert (scenario.scenario, scenario.run_id, scenario.status) == (
            "site-loss",
            run_id,
            "crashed",
        )
        assert f"process {pid} on {socket.gethostname()} is gone" in scenario.reason
        assert "cannot open the target" in scenario.reason  # the lab is not up: said, not hidden

        # The record, the history, the metrics and the failure notification say `crashed`.
        data = json.loads((results / run_id / "run.json").read_text())
        assert data["status"] == "crashed" and "is gone" in data["reason"]
        assert data["crash"]["errors"] and data["finishedAt"]
        events_log = (results / run_id / "events.jsonl").read_text().splitlines()
        assert json.loads(events_log[-1])["action"] == "run.crashed"
        rows = svc.history.recent("nightly")
        assert [(r.kind, r.status) for r in rows] == [("drill", "crashed"), ("scenario", "crashed")]
        metrics = svc.metrics.render().decode()
        assert 'drill_runner_drill_last_status{drill="nightly",status="crashed"} 1.0' in metrics
        crashed_runs = 'scenario_runs_total{drill="nightly",scenario="site-loss",status="crashed"}'
        assert f"drill_runner_{crashed_runs} 1.0" in metrics
        assert svc.notifier.flush(10)
        [message] = hook.bodies("/oncall")
        assert message["event"] == "drill.finished" and message["status"] == "crashed"

        # The row is gone: the drill runs again, and a second sweep finds nothing.
        assert svc.active.all() == []
        assert svc.recovery.sweep() == []
        outcome = svc.fire_now("nightly")
        assert isinstance(outcome, ev.DrillRunFinished) and outcome.status == "passed"
        assert svc.shutdown()
    print(f"closed in {closed_in:.2f}s")
    assert closed_in < 10


def test_a_live_process_run_is_left_alone(tmp_path: Path, store_url: str) -> None:
    write_drill(tmp_path, "nightly")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        other = ActiveRuns(
            open_store(store_url),
            identity="other",
            clock=SystemClock(),
            pid=alive.pid,
            pid_start=process_start(alive.pid),
        )
        other.claim(
            "nightly",
            trigger="run-now",
            scheduled_for=datetime.now(UTC),
            drill_path=tmp_path / "drills" / "nightly.yaml",
            results_dir=tmp_path / "results",
        )
        svc = SchedulerService(
            ServiceSettings(drills=tmp_path / "drills", store_url=store_url),
            leader=SoleLeader("b"),
            clock=SystemClock(),
            run=FakeRuns(SystemClock()),  # type: ignore[arg-type]
        )
        assert svc.recovery.sweep() == []
        [row] = svc.active.all()
        assert row.owner == "other" and svc.active.gone(row) is None
        skipped = svc.fire_now("nightly")
        assert isinstance(skipped, ev.DrillRunSkipped) and skipped.reason == "running"
        assert svc.shutdown()
        other.engine.dispose()
    finally:
        alive.kill()
        alive.wait()
