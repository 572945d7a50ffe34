"""Firing drills with a fake clock and a fake run function: run, skip, one at a time, stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.clock import FakeClock
from runner.engine.verdict import Status
from runner.scheduler import events as ev
from runner.scheduler.catalog import Catalog
from runner.scheduler.firing import DrillFirer, FiringSettings
from runner.scheduler.triggers import trigger_for
from tests.scheduler.conftest import T0, Events, FakeRuns, write_drill


def firer(tmp_path: Path, clock: FakeClock, runs: FakeRuns, **settings: object) -> DrillFirer:
    catalog = Catalog(tmp_path / "drills")
    catalog.refresh()
    return DrillFirer(
        drills=catalog.scheduled,
        run=runs,
        clock=clock,
        sinks=[Events()],
        settings=FiringSettings(results_dir=tmp_path / "results", **settings),  # type: ignore[arg-type]
    )


def events_of(f: DrillFirer) -> Events:
    sink = next(iter(f.sinks))
    assert isinstance(sink, Events)
    return sink


def test_a_fire_runs_every_scenario_in_order_and_reports(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    write_drill(tmp_path, scenarios=("site-loss", "partition"))
    f = firer(tmp_path, clock, runs)
    entry = f.drills()["nightly"]
    assert entry.schedule is not None
    # The fire time comes from the drill's own trigger: at 03:01, the next is 03:00 tomorrow.
    clock.advance(60)
    fire = trigger_for(entry.schedule).get_next_fire_time(None, clock.now())
    assert fire == T0 + timedelta(days=1)
    clock.advance((fire - clock.now()).total_seconds() + 5)
    outcome = f.fire("nightly", fire, ev.Trigger.SCHEDULE)
    assert isinstance(outcome, ev.DrillRunFinished) and outcome.status == "passed"
    assert runs.scenarios() == ["site-loss", "partition"]
    assert all(c.drill_path == entry.path and not c.interactive for c in runs.calls)
    assert runs.calls[0].results_dir == tmp_path / "results"
    kinds = [type(e).__name__ for e in events_of(f)]
    assert kinds == [
        "DrillRunStarted",
        "ScenarioRunFinished",
        "ScenarioRunFinished",
        "DrillRunFinished",
    ]
    first = events_of(f).of(ev.ScenarioRunFinished)[0]
    assert (first.rto_seconds, first.rto_objective_seconds) == (42.0, 300.0)
    assert (first.rpo_seconds, first.rpo_objective_seconds) == (None, 30.0)


def test_a_fire_missed_by_more_than_the_grace_is_skipped(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    write_drill(tmp_path, misfire_grace="10m")
    f = firer(tmp_path, clock, runs)
    clock.advance(9 * 60)
    assert isinstance(f.fire("nightly", T0, ev.Trigger.SCHEDULE), ev.DrillRunFinished)
    clock.advance(2 * 60)  # now 11 minutes after T0
    outcome = f.fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(outcome, ev.DrillRunSkipped)
    assert outcome.reason == "missed" and "missed by 660s (misfireGrace 600s)" in outcome.detail
    assert len(runs.calls) == 1
    # run-now is never "late"
    assert isinstance(f.fire("nightly", T0, ev.Trigger.RUN_NOW), ev.DrillRunFinished)


def test_a_fire_in_a_blackout_is_skipped_and_recorded(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    write_drill(
        tmp_path,
        blackouts=(("freeze", "2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z"),),
    )
    f = firer(tmp_path, clock, runs)
    outcome = f.fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(outcome, ev.DrillRunSkipped) and outcome.reason == "blackout"
    assert "'freeze'" in outcome.detail
    assert runs.calls == [] and events_of(f) == [outcome]
    clock.advance(86400)
    assert isinstance(
        f.fire("nightly", T0 + timedelta(days=1), ev.Trigger.SCHEDULE), ev.DrillRunFinished
    )


def test_one_run_per_drill_at_a_time(tmp_path: Path, clock: FakeClock, runs: FakeRuns) -> None:
    write_drill(tmp_path)
    write_drill(tmp_path, "other")
    runs.block = True
    f = firer(tmp_path, clock, runs)
    first = f.submit("nightly", T0, ev.Trigger.SCHEDULE)
    assert runs.started.wait(5)
    second = f.fire("nightly", T0, ev.Trigger.RUN_NOW)
    assert isinstance(second, ev.DrillRunSkipped) and second.reason == "running"
    assert f.running() == ["nightly"]
    other = f.submit("other", T0, ev.Trigger.SCHEDULE)  # another drill is not held up
    runs.release.set()
    assert isinstance(first.result(5), ev.DrillRunFinished)
    assert isinstance(other.result(5), ev.DrillRunFinished)
    assert runs.scenarios() == ["site-loss", "site-loss"] and f.running() == []


def test_stop_aborts_running_drills_waits_for_them_and_refuses_new_fires(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    write_drill(tmp_path, scenarios=("site-loss", "partition"))
    runs.block = True
    f = firer(tmp_path, clock, runs)
    running = f.submit("nightly", T0, ev.Trigger.SCHEDULE)
    assert runs.started.wait(5)
    assert f.stop("the scheduler is shutting down", timeout=5)
    outcome = running.result(0)
    assert isinstance(outcome, ev.DrillRunFinished) and outcome.status == "aborted"
    assert runs.aborts == ["the scheduler is shutting down"]
    assert runs.scenarios() == ["site-loss"]  # the second scenario never started
    later = f.fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(later, ev.DrillRunSkipped) and later.reason == "stopping"


def test_protected_targets_need_confirmation_for_unattended_runs(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    write_drill(tmp_path, protected=True)
    refused = firer(tmp_path, clock, runs).fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(refused, ev.DrillRunSkipped) and refused.reason == "protected"
    assert "primary" in refused.detail and runs.calls == []
    confirmed = firer(tmp_path, clock, runs, confirmed_targets=frozenset({"primary"}))
    assert isinstance(confirmed.fire("nightly", T0, ev.Trigger.SCHEDULE), ev.DrillRunFinished)


def test_a_scenario_that_cannot_start_is_an_error_and_the_drill_goes_on(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    write_drill(tmp_path)
    runs.raises = RuntimeError("Prometheus is down")
    outcome = firer(tmp_path, clock, runs).fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(outcome, ev.DrillRunFinished) and outcome.status == "error"
    assert outcome.results[0].reason == "could not start: Prometheus is down"


def test_worst_status_wins_and_unknown_drills_are_skipped(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    assert ev.worst(["passed", "failed", "inconclusive"]) == "failed"
    assert ev.worst(["aborted", "error"]) == "error" and ev.worst([]) == "error"
    write_drill(tmp_path)
    runs.status = Status.FAILED
    f = firer(tmp_path, clock, runs)
    done = f.fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(done, ev.DrillRunFinished) and done.failed
    gone = f.fire("deleted", T0, ev.Trigger.SCHEDULE)
    assert isinstance(gone, ev.DrillRunSkipped) and gone.reason == "removed"


def test_catalog_reloads_changed_files_and_keeps_the_last_good_version(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = write_drill(tmp_path, cron="0 3 * * *")
    catalog = Catalog(tmp_path / "drills")
    assert catalog.refresh() and not catalog.refresh()  # nothing changed the second time
    old = catalog.entries["nightly"]
    text = path.read_text().replace("0 3 * * *", "0 4 * * *")
    path.write_text(text + "\n# changed\n")
    assert catalog.refresh()
    schedule = catalog.entries["nightly"].schedule
    assert schedule is not None and schedule.cron == "0 4 * * *"
    path.write_text(text.replace("kind: Drill", "kind: Dril"))
    assert not catalog.refresh()
    assert catalog.entries["nightly"].drill.spec.schedule == schedule  # still scheduled
    assert str(path) in catalog.errors and "kind" in catalog.errors[str(path)]
    scenario = tmp_path / "scenarios" / "site-loss.yaml"
    path.write_text(text)
    assert catalog.refresh() and not catalog.errors
    scenario.write_text(scenario.read_text().replace("rto: 5m", "rto: 4m"))
    assert catalog.refresh()  # a scenario's change reloads its drill
    path.unlink()
    assert catalog.refresh() and catalog.entries == {}
    assert old.name == "nightly"


def test_fire_times_come_from_the_injected_clock(tmp_path: Path, runs: FakeRuns) -> None:
    clock = FakeClock(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    write_drill(tmp_path)
    done = firer(tmp_path, clock, runs).fire("nightly", clock.now(), ev.Trigger.RUN_NOW)
    assert done.at == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_a_drill_file_broken_between_firings_runs_its_last_good_version(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    path = write_drill(tmp_path, cron="0 3 * * *")
    catalog = Catalog(tmp_path / "drills")
    catalog.refresh()
    f = DrillFirer(
        drills=catalog.scheduled,
        run=runs,
        clock=clock,
        settings=FiringSettings(results_dir=tmp_path / "results"),
        problem=lambda name: None,
    )
    good = catalog.entries["nightly"]
    # A typo is pushed: a key loses its colon (YAML notices it one line later).
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("targets:"))
    lines[at] = lines[at].replace("targets:", "targets")
    path.write_text("\n".join(lines) + "\n")
    assert not catalog.refresh()
    [problem] = catalog.problems.values()
    assert problem.keeping and problem.drill == "nightly"
    assert problem.issues[0].startswith(f"{path}:{at + 1}:3: YAML syntax error")
    (tmp_path / "scenarios" / "site-loss.yaml").write_text("kind: [\n")  # its scenario too
    catalog.refresh()

    outcome = f.fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(outcome, ev.DrillRunFinished) and outcome.status == "passed"
    [request] = runs.calls
    assert request.loaded is not None
    scenario, drill = request.loaded
    assert drill is good.drill and scenario is good.scenarios[0][1]


def test_a_drill_file_that_never_loaded_keeps_its_job_and_its_fires_are_recorded(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns
) -> None:
    from runner.scheduler.executor import FiringExecutor
    from runner.scheduler.jobs import JOB_FUNC, new_scheduler, sync_jobs
    from runner.scheduler.tables import open_store

    path = write_drill(tmp_path, cron="0 3 * * *")
    path.write_text(path.read_text().replace("cron: '0 3 * * *'", "cron: '0 3 * * 9'"))
    catalog = Catalog(tmp_path / "drills")
    catalog.refresh()
    assert catalog.entries == {} and catalog.problem_of("nightly") is not None
    # The job from an earlier scheduler stays in the store: the file may define it.
    assert catalog.may_define("nightly") and not catalog.may_define("other")

    # A scheduler that ran earlier, when the file loaded, left jobs in the store.
    engine = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    scheduler = new_scheduler(engine, FiringExecutor(firer(tmp_path, clock, runs)))
    scheduler.start(paused=True)
    try:
        for name in ("nightly", "other"):
            scheduler.add_job(JOB_FUNC, "cron", hour=3, id=name, args=[name])
        sync_jobs(scheduler, catalog.scheduled(), keep=catalog.may_define)
        assert sorted(j.id for j in scheduler.get_jobs()) == ["nightly"]
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()

    events = Events()
    f = DrillFirer(
        drills=catalog.scheduled,
        run=runs,
        clock=clock,
        sinks=[events],
        problem=lambda n: p.text if (p := catalog.problem_of(n)) else None,
    )
    skipped = f.fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(skipped, ev.DrillRunSkipped) and skipped.reason == "invalid"
    assert f"{path}:" in skipped.detail and "spec.schedule.cron" in skipped.detail
    assert runs.calls == []
