"""The service on a real SQLite store and a real APScheduler: persistence, run-now, leaders."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from runner.clock import FakeClock, SystemClock
from runner.scheduler import control
from runner.scheduler import events as ev
from runner.scheduler.firing import FiringSettings
from runner.scheduler.leader import FileLeader, Leadership, SoleLeader
from runner.scheduler.requests import RunRequests
from runner.scheduler.service import SchedulerService, ServiceSettings
from runner.scheduler.tables import requests
from tests.scheduler.conftest import Events, FakeRuns, write_drill


def service(
    tmp_path: Path,
    runs: FakeRuns,
    *,
    leader: Leadership | None = None,
    events: Events | None = None,
    clock: FakeClock | SystemClock | None = None,
    store_url: str | None = None,
) -> SchedulerService:
    settings = ServiceSettings(
        drills=tmp_path / "drills",
        store_url=store_url or f"sqlite:///{tmp_path / 'store' / 'scheduler.sqlite'}",
        shutdown_grace_seconds=10,
        firing=FiringSettings(results_dir=tmp_path / "results"),
    )
    return SchedulerService(
        settings,
        leader=leader or SoleLeader("solo"),
        clock=clock or SystemClock(),
        run=runs,
        sinks=[events] if events is not None else [],
    )


def wait_for(predicate: object, seconds: float = 10) -> None:
    done = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if callable(predicate) and predicate():
            return
        done.wait(0.02)
    raise AssertionError("condition not reached in time")


def test_the_store_keeps_schedules_pause_and_history_across_a_restart(
    tmp_path: Path, runs: FakeRuns, store_url: str
) -> None:
    path = write_drill(tmp_path, cron="0 3 * * *")
    first = service(tmp_path, runs, store_url=store_url)
    first.tick()
    [job] = control.jobs(first.engine)
    assert job.drill == "nightly" and job.next_run is not None and job.misfire_grace_seconds == 600
    assert job.next_run.astimezone(UTC).hour == 3
    control.pause(first.engine, "nightly")
    outcome = first.fire_now("nightly")
    assert isinstance(outcome, ev.DrillRunFinished)
    assert first.shutdown()

    # The drill file changes while the scheduler is down; the pause must survive the restart.
    path.write_text(path.read_text().replace("0 3 * * *", "15 4 * * *"))
    second = service(tmp_path, runs, store_url=store_url)
    second.tick()
    [job] = control.jobs(second.engine)
    assert job.paused and "hour='4'" in job.trigger and "minute='15'" in job.trigger
    last = second.history.last("nightly")
    assert last is not None and last.status == "passed" and last.trigger == "run-now"
    scenario_rows = second.history.recent("nightly", kinds=("scenario",))
    assert [(r.scenario, r.rto_seconds, r.run_id) for r in scenario_rows] == [
        ("site-loss", 42.0, "site-loss-1")
    ]
    next_run = control.resume(second.engine, "nightly", clock=SystemClock())
    assert next_run is not None and (next_run.hour, next_run.minute) == (4, 15)
    with pytest.raises(Exception, match="no scheduled drill 'nope'"):
        control.pause(second.engine, "nope")
    assert second.shutdown()


def test_apscheduler_fires_through_the_executor_and_max_instances_skips(
    tmp_path: Path, runs: FakeRuns
) -> None:
    write_drill(tmp_path, cron="0 3 * * *")
    events = Events()
    svc = service(tmp_path, runs, events=events)
    svc.tick()
    runs.block = True
    svc.scheduler.modify_job("nightly", next_run_time=datetime.now(UTC))
    assert runs.started.wait(10)
    [started] = events.of(ev.DrillRunStarted)
    assert started.trigger is ev.Trigger.SCHEDULE
    # The job is due again while its run goes on: APScheduler refuses, we record a skip.
    svc.scheduler.modify_job("nightly", next_run_time=datetime.now(UTC))
    wait_for(lambda: events.of(ev.DrillRunSkipped))
    [skip] = events.of(ev.DrillRunSkipped)
    assert skip.reason == "running" and skip.drill == "nightly"
    runs.release.set()
    wait_for(lambda: events.of(ev.DrillRunFinished))
    assert len(runs.calls) == 1
    next_run = svc.scheduler.get_job("nightly").next_run_time
    assert next_run > datetime.now(UTC) and next_run.astimezone(UTC).hour == 3
    assert svc.shutdown()


def test_run_now_requests_are_claimed_once_by_the_active_scheduler(
    tmp_path: Path, runs: FakeRuns
) -> None:
    write_drill(tmp_path)
    events = Events()
    svc = service(tmp_path, runs, events=events)
    svc.tick()
    svc.requests.add("nightly", by="alice", at=datetime.now(UTC))
    svc.tick()
    wait_for(lambda: events.of(ev.DrillRunFinished))
    svc.tick()
    svc.firer.stop("test over", timeout=5)
    assert len(runs.calls) == 1
    [done] = events.of(ev.DrillRunFinished)
    assert done.trigger is ev.Trigger.RUN_NOW
    with svc.engine.connect() as conn:
        row = conn.execute(select(requests)).mappings().one()
    assert row["claimed_by"] == "solo" and row["requested_by"] == "alice"
    assert svc.shutdown()


def test_two_claimers_race_for_requests_and_each_request_goes_to_one(tmp_path: Path) -> None:
    from runner.scheduler.tables import open_store

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    stores = [RunRequests(open_store(url)) for _ in range(2)]
    ids = {stores[0].add(f"d{i}", by="bob", at=datetime.now(UTC)) for i in range(20)}
    got: dict[int, list[int]] = {0: [], 1: []}
    barrier = threading.Barrier(2)

    def claim(i: int) -> None:
        barrier.wait()
        got[i] = [r.id for r in stores[i].claim(by=f"c{i}", at=datetime.now(UTC))]

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(got[0] + got[1]) == sorted(ids)


def test_two_schedulers_with_a_file_lock_only_the_leader_runs_drills(
    tmp_path: Path, runs: FakeRuns
) -> None:
    write_drill(tmp_path)
    lock = tmp_path / "scheduler.lock"
    a_events, b_events = Events(), Events()
    a = service(tmp_path, runs, leader=FileLeader(lock, "a"), events=a_events)
    b = service(tmp_path, runs, leader=FileLeader(lock, "b"), events=b_events)
    a.tick()
    b.tick()
    assert (a.leading, b.leading) == (True, False)
    assert a.ready() == (True, "leader") and b.ready() == (True, "standby")
    a.requests.add("nightly", by="ops", at=datetime.now(UTC))
    b.tick()  # the standby does not take requests
    assert runs.calls == [] and not b._started
    a.tick()
    wait_for(lambda: a_events.of(ev.DrillRunFinished))
    assert b_events == []
    assert a.shutdown()  # releases the lock
    b.tick()
    assert b.leading and b.metrics.leader._value.get() == 1
    b.requests.add("nightly", by="ops", at=datetime.now(UTC))
    b.tick()
    wait_for(lambda: b_events.of(ev.DrillRunFinished))
    assert len(runs.calls) == 2
    assert b.shutdown()


def test_a_standby_that_loses_leadership_stops_firing(tmp_path: Path, runs: FakeRuns) -> None:
    class Flip:
        identity = "flip"
        leading = True

        def hold(self) -> bool:
            return self.leading

        def release(self) -> None:
            self.leading = False

    write_drill(tmp_path)
    leader = Flip()
    svc = service(tmp_path, runs, leader=leader)
    svc.tick()
    assert svc.leading
    leader.leading = False
    svc.tick()
    assert not svc.leading and svc.metrics.leader._value.get() == 0
    svc.scheduler.modify_job("nightly", next_run_time=datetime.now(UTC) - timedelta(seconds=1))
    svc.scheduler.wakeup()
    threading.Event().wait(0.3)
    assert runs.calls == []  # paused: the due job is not processed
    assert svc.shutdown()


def test_store_urls_use_psycopg_3_and_never_show_a_password() -> None:
    from runner.scheduler.tables import masked, normalize

    assert normalize("postgresql://u:pw@db/drills") == "postgresql+psycopg://u:pw@db/drills"
    assert normalize("sqlite:///x.sqlite") == "sqlite:///x.sqlite"
    assert masked("postgresql://u:hunter2@db:5432/drills") == (
        "postgresql+psycopg://u:***@db:5432/drills"
    )
    assert "hunter2" not in masked("not a url hunter2")


def test_duplicate_drill_names_keep_the_first_file(tmp_path: Path, runs: FakeRuns) -> None:
    from runner.scheduler.catalog import Catalog

    write_drill(tmp_path, "nightly")
    copy = tmp_path / "drills" / "z-copy.yaml"
    copy.write_text((tmp_path / "drills" / "nightly.yaml").read_text())
    catalog = Catalog(tmp_path / "drills")
    catalog.refresh()
    assert catalog.entries["nightly"].path.name == "nightly.yaml"
    assert "also used by" in catalog.errors[str(copy)]
