"""Two schedulers on one real store (SQLite, PostgreSQL): a graceful stop hands over at once.

The leader is told to stop while a drill of its own is aborting (its cleanup takes two
seconds) and, meanwhile, two fires come due: one of another drill and one of the drill
still cleaning up. The standby must take over at once and end both fires as what they
are: the other drill runs, the same drill is recorded as skipped (`running`, naming the
replica that still runs it). Nothing is lost, and nothing runs twice at once.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.clock import SystemClock
from runner.scheduler import events as ev
from runner.scheduler.firing import FiringSettings
from runner.scheduler.leader import FileLeader, SoleLeader
from runner.scheduler.service import SchedulerService, ServiceSettings
from tests.scheduler.conftest import Events, FakeRuns, write_drill
from tests.scheduler.replicas import drillctl
from tests.scheduler.test_control import make_due, next_run


def service(
    tmp_path: Path, store_url: str, runs: FakeRuns, events: Events, name: str
) -> SchedulerService:
    settings = ServiceSettings(
        drills=tmp_path / "drills",
        store_url=store_url,
        poll_seconds=0.1,
        shutdown_grace_seconds=30,
        firing=FiringSettings(results_dir=tmp_path / "results"),
    )
    return SchedulerService(
        settings,
        leader=FileLeader(tmp_path / "scheduler.lock", name),
        clock=SystemClock(),
        run=runs,
        sinks=[events],
    )


def until(what: str, predicate: object, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not (callable(predicate) and predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_fires_due_during_a_graceful_shutdown_are_run_or_skipped_by_the_standby(
    tmp_path: Path, store_url: str
) -> None:
    write_drill(tmp_path, "slow", cron="0 3 * * *")
    write_drill(tmp_path, "nightly", cron="0 4 * * *")
    a_runs = FakeRuns(SystemClock(), block=True, cleanup_seconds=2.0)  # type: ignore[arg-type]
    b_runs = FakeRuns(SystemClock())  # type: ignore[arg-type]
    a_events, b_events = Events(), Events()
    a = service(tmp_path, store_url, a_runs, a_events, "a")
    b = service(tmp_path, store_url, b_runs, b_events, "b")
    a.tick()
    b.tick()
    assert (a.leading, b.leading) == (True, False)
    a.requests.add("slow", by="ops", at=datetime.now(UTC))
    a.tick()
    assert a_runs.started.wait(10)

    stop_ticking = threading.Event()

    def standby_loop() -> None:
        while not stop_ticking.is_set():
            b.tick()
            stop_ticking.wait(0.1)

    ticker = threading.Thread(target=standby_loop)
    ticker.start()
    try:
        due = datetime.now(UTC) + timedelta(seconds=1)
        for drill in ("slow", "nightly"):
            make_due(store_url, drill, due)
        t0 = time.monotonic()
        assert a.shutdown()  # aborts `slow`, which takes 2 s to clean up
        shutdown_ended = datetime.now(UTC)
        assert shutdown_ended > due, "the due instant must fall inside the shutdown"
        assert time.monotonic() - t0 >= 2.0
        until("the standby's run of nightly", lambda: b_events.of(ev.DrillRunFinished))
        until("the standby's skip of slow", lambda: b_events.of(ev.DrillRunSkipped))
    finally:
        stop_ticking.set()
        ticker.join(10)
    assert b.shutdown()

    [ran] = b_events.of(ev.DrillRunFinished)
    assert (ran.drill, ran.trigger, ran.scheduled_for, ran.status) == (
        "nightly",
        ev.Trigger.SCHEDULE,
        due,
        "passed",
    )
    [skipped] = b_events.of(ev.DrillRunSkipped)
    assert (skipped.drill, skipped.reason, skipped.scheduled_for) == ("slow", "running", due)
    assert skipped.detail.startswith("the drill is running on a (pid ")
    # The old leader fired nothing during its shutdown and its own run ended as aborted.
    assert [e.drill for e in a_events.of(ev.DrillRunStarted)] == ["slow"]
    [aborted] = a_events.of(ev.DrillRunFinished)
    assert aborted.drill == "slow" and aborted.status == "aborted"
    assert a_runs.aborts == ["the scheduler is shutting down"]
    # Both jobs moved on, in the store every replica shares.
    for drill in ("slow", "nightly"):
        later = next_run(store_url, drill)
        assert later is not None and later > due


def test_run_now_here_while_another_process_runs_the_drill_is_a_running_skip(
    tmp_path: Path, store_url: str
) -> None:
    write_drill(tmp_path, "nightly")
    busy = FakeRuns(SystemClock(), block=True)  # type: ignore[arg-type]
    events = Events()
    leader = service(tmp_path, store_url, busy, Events(), "leader")
    leader.tick()
    leader.requests.add("nightly", by="ops", at=datetime.now(UTC))
    leader.tick()
    assert busy.started.wait(10)
    here_runs = FakeRuns(SystemClock())  # type: ignore[arg-type]
    here = SchedulerService(
        ServiceSettings(
            drills=tmp_path / "drills",
            store_url=store_url,
            firing=FiringSettings(results_dir=tmp_path / "results"),
        ),
        leader=SoleLeader("cronjob"),
        clock=SystemClock(),
        run=here_runs,
        sinks=[events],
    )
    outcome = here.fire_here("nightly")
    assert isinstance(outcome, ev.DrillRunSkipped), outcome
    assert outcome.reason == "running" and "running on leader (pid" in outcome.detail
    assert here_runs.calls == []
    # The same from a real `run-now --here` process: a recorded skip, exit 3, no second run.
    cli = drillctl(
        "schedule",
        "run-now",
        "nightly",
        "--here",
        f"--drills={tmp_path / 'drills'}",
        f"--results={tmp_path / 'results'}",
        cwd=tmp_path,
        store=store_url,
    )
    assert cli.returncode == 3, cli.stderr
    assert cli.stdout.startswith("nightly: skipped (running: the drill is running on leader (pid")
    assert "Traceback" not in cli.stderr
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").iterdir())
    skips = leader.history.recent("nightly", kinds=("skipped",))
    assert len(skips) == 2 and all(r.reason.startswith("running:") for r in skips)
    busy.release.set()
    assert leader.shutdown()
