"""`drillctl schedule list|pause|resume|run-now` against a store with due fires: nothing is lost.

The control commands run as real processes against a real store (SQLite, PostgreSQL) in
which a fire is due and no scheduler is running (between restarts, during a deploy). They
must read and edit the store without processing any job: the due fire is still due
afterwards, and the next scheduler that starts runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from runner.clock import SystemClock
from runner.scheduler import events as ev
from runner.scheduler.firing import FiringSettings
from runner.scheduler.leader import SoleLeader
from runner.scheduler.service import SchedulerService, ServiceSettings
from runner.scheduler.tables import JOBS_TABLE, open_store
from tests.scheduler.conftest import Events, FakeRuns, write_drill
from tests.scheduler.replicas import drillctl


def job_store(url: str) -> SQLAlchemyJobStore:
    """APScheduler's own job store on our table: the test's independent view of a job."""
    store = SQLAlchemyJobStore(engine=open_store(url), tablename=JOBS_TABLE)
    store.start(BackgroundScheduler(timezone=UTC), "default")
    return store


def next_run(url: str, drill: str) -> datetime | None:
    store = job_store(url)
    try:
        job = store.lookup_job(drill)
        assert job is not None, drill
        return job.next_run_time  # type: ignore[no-any-return]
    finally:
        store.engine.dispose()


def make_due(url: str, drill: str, at: datetime) -> None:
    """Set a job's next run time as a scheduler that was down would have left it."""
    store = job_store(url)
    try:
        job = store.lookup_job(drill)
        job._modify(next_run_time=at)
        store.update_job(job)
    finally:
        store.engine.dispose()


def service(tmp_path: Path, runs: FakeRuns, store_url: str, events: Events) -> SchedulerService:
    settings = ServiceSettings(
        drills=tmp_path / "drills",
        store_url=store_url,
        shutdown_grace_seconds=10,
        firing=FiringSettings(results_dir=tmp_path / "results"),
    )
    return SchedulerService(
        settings, leader=SoleLeader("solo"), clock=SystemClock(), run=runs, sinks=[events]
    )


def test_control_commands_never_consume_a_due_fire(
    tmp_path: Path, runs: FakeRuns, store_url: str
) -> None:
    write_drill(tmp_path, "nightly", cron="0 3 * * *", misfire_grace="1h")
    write_drill(tmp_path, "weekly", cron="0 4 * * 1")
    first = service(tmp_path, runs, store_url, Events())
    first.tick()
    assert first.shutdown()
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    make_due(store_url, "nightly", due)

    for args in (
        ("schedule", "list", "--drills", "drills"),
        ("schedule", "pause", "weekly"),
        ("schedule", "resume", "weekly"),
        ("schedule", "list"),
        ("schedule", "run-now", "weekly"),
    ):
        done = drillctl(*args, cwd=tmp_path, store=store_url)
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
        assert next_run(store_url, "nightly") == due, args
    listed = drillctl("schedule", "list", "--drills", "drills", cwd=tmp_path, store=store_url)
    assert f"next {due:%Y-%m-%d %H:%M:%S} UTC" in listed.stdout

    # The next scheduler to start runs the fire that was due (within its misfire grace).
    events = Events()
    second = service(tmp_path, runs, store_url, events)
    second.tick()
    deadline = SystemClock().monotonic() + 10
    while len(events.of(ev.DrillRunFinished)) < 2 and SystemClock().monotonic() < deadline:
        SystemClock().sleep(0.05)
    assert second.shutdown()
    fired = {(e.drill, e.trigger, e.scheduled_for) for e in events.of(ev.DrillRunFinished)}
    assert ("nightly", ev.Trigger.SCHEDULE, due) in fired
    assert any(d == "weekly" and t is ev.Trigger.RUN_NOW for d, t, _ in fired)
    assert events.of(ev.DrillRunSkipped) == []
    after = next_run(store_url, "nightly")
    assert after is not None and after > datetime.now(UTC)


def test_run_now_of_an_unknown_drill_is_refused(tmp_path: Path, store_url: str) -> None:
    write_drill(tmp_path, "nightly")
    done = drillctl("schedule", "run-now", "nope", cwd=tmp_path, store=store_url)
    assert done.returncode == 2, done
    assert "no drill named 'nope'" in done.stderr and "Traceback" not in done.stderr
    known = drillctl("schedule", "run-now", "nightly", cwd=tmp_path, store=store_url)
    assert known.returncode == 0 and "run requested" in known.stdout, known.stderr


def test_control_commands_on_an_unreachable_store_fail_cleanly(tmp_path: Path) -> None:
    from tests.infra.prometheus import free_port

    write_drill(tmp_path, "nightly")
    url = f"postgresql://drills:hunter2@127.0.0.1:{free_port()}/drills"
    for args in (
        ("schedule", "list"),
        ("schedule", "pause", "nightly"),
        ("schedule", "resume", "nightly"),
        ("schedule", "run-now", "nightly"),
        ("schedule", "serve", "--metrics-port=0"),
    ):
        done = drillctl(*args, cwd=tmp_path, store=url)
        assert done.returncode == 3, (args, done.stdout, done.stderr)
        [line] = done.stderr.splitlines()
        assert line.startswith("error: store postgresql+psycopg://drills:***@127.0.0.1:"), line
        assert "unreachable" in line and "hunter2" not in done.stderr + done.stdout


def test_list_shows_blackouts_and_broken_files_with_their_location(
    tmp_path: Path, runs: FakeRuns
) -> None:
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    now = datetime.now(UTC).replace(microsecond=0)
    write_drill(
        tmp_path,
        "frozen",
        cron="*/5 * * * *",
        blackouts=(
            (
                "change freeze",
                f"{now - timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
                f"{now + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
            ),
        ),
    )
    path = write_drill(tmp_path, "nightly", cron="0 3 * * *")
    first = service(tmp_path, runs, store, Events())
    first.tick()
    assert first.shutdown()
    # The file breaks while the scheduler is down: a key loses its colon.
    text = path.read_text().replace("  schedule:", "  schedule")
    path.write_text(text)
    bad_line = text.splitlines().index("  schedule") + 1

    listed = drillctl("schedule", "list", "--drills", "drills", cwd=tmp_path, store=store)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    out = listed.stdout
    frozen = out[out.index("frozen\n") : out.index("nightly\n")]
    until = f"{now + timedelta(days=1):%Y-%m-%d %H:%M:%S} UTC"
    assert f"BLACKOUT 'change freeze' now, until {until}: fires are skipped" in frozen
    assert "(inside blackout 'change freeze': it will be skipped)" in frozen
    nightly = out[out.index("nightly\n") :]
    assert "schedule: cron[month='*', day='*', day_of_week='*', hour='3', minute='0']" in nightly
    assert "(from the store; no drill file loads)" in nightly and "next 20" in nightly
    assert f"PROBLEM: {Path('drills') / 'nightly.yaml'} does not load" in nightly
    assert (
        f"drills/nightly.yaml:{bad_line}:3: YAML syntax error: could not find expected ':'"
        in nightly
    )
