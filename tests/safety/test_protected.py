"""Safety 2: a protected target is never touched without an explicit, named opt-in, through
every entry point: `drillctl run`, the pytest plugin's scenario items, its `drill` fixture,
and the scheduler. The oracle is the API server's own request log: a refused run sends it
nothing at all; a confirmed one runs and leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.clock import SystemClock
from runner.engine.drill import AbortSignal
from runner.engine.launch import DrillRequest, launch
from runner.errors import ProtectedTargetError
from runner.scheduler import events as ev
from runner.scheduler.catalog import Catalog
from runner.scheduler.firing import DrillFirer, FiringSettings, launching
from tests.safety.conftest import Cluster, drillctl
from tests.safety.files import SCALE_DOWN, write


def _requests(cluster: Cluster) -> int:
    """Requests the server got, except the fake controller's watches (a run starts with
    SelfSubjectAccessReviews, so any attempt shows here)."""
    return int(
        cluster.emulator.call(
            lambda h: sum(1 for r in h.request_log if r.params.get("watch") != "true")
        )
    )


def _files(folder: Path, cluster: Cluster, **kw: object) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder, cluster.url, failover=[SCALE_DOWN], protected=("east",), **kw)  # type: ignore[arg-type]


def _assert_clean(cluster: Cluster) -> None:
    assert cluster.chaos_left() == []
    assert cluster.lease_holder() is None


def test_drillctl_run_refuses_unless_the_target_is_named(tmp_path: Path, cluster: Cluster) -> None:
    scenario, drill = _files(tmp_path, cluster)
    before = _requests(cluster)
    attempts = ([], ["--yes"], ["--yes", "--confirm-target", "west"], ["--confirm-target", "east"])
    for extra in attempts:
        done = drillctl("run", str(scenario), "--drill", str(drill), *extra, cwd=tmp_path)
        assert done.returncode == 2, (extra, done.stdout, done.stderr)
        assert "'east' is protected" in done.stderr and "--confirm-target east" in done.stderr
    assert _requests(cluster) == before  # not one request reached the cluster
    done = drillctl(
        "run", str(scenario), "--drill", str(drill), "--yes", "--confirm-target", "east",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert _requests(cluster) > before and cluster.replicas() == 0
    _assert_clean(cluster)


def test_launch_itself_refuses_for_any_front_end(tmp_path: Path, cluster: Cluster) -> None:
    """The engine's own guard: a new entry point that forgets the check is still refused."""
    scenario, drill = _files(tmp_path, cluster)
    before = _requests(cluster)
    request = DrillRequest(scenario_path=scenario, drill_path=drill, results_dir=tmp_path / "r")
    with pytest.raises(ProtectedTargetError) as refused:
        launch(request)
    assert refused.value.targets == ["east"] and "--confirm-target east" in str(refused.value)
    assert _requests(cluster) == before
    assert not (tmp_path / "r").exists()  # not even a record


def _pytest_project(pytester: pytest.Pytester, cluster: Cluster) -> Path:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    _, drill = _files(pytester.path / "scenarios", cluster)
    return drill


def test_plugin_scenario_items_refuse_without_drill_confirm_target(
    pytester: pytest.Pytester, cluster: Cluster
) -> None:
    drill = _pytest_project(pytester, cluster)
    before = _requests(cluster)
    refused = pytester.runpytest(f"--drill={drill}", "scenarios/", "--drill-confirm-target=west")
    refused.assert_outcomes(errors=1)  # could not start: an error, never a skip
    refused.stdout.fnmatch_lines(
        ["*'east' protected and not confirmed*--drill-confirm-target east*"]
    )
    assert _requests(cluster) == before
    confirmed = pytester.runpytest(f"--drill={drill}", "scenarios/", "--drill-confirm-target=east")
    confirmed.assert_outcomes(passed=1)
    assert _requests(cluster) > before and cluster.replicas() == 0
    _assert_clean(cluster)


def test_plugin_drill_fixture_refuses_without_drill_confirm_target(
    pytester: pytest.Pytester, cluster: Cluster
) -> None:
    drill = _pytest_project(pytester, cluster)
    pytester.makepyfile(
        test_failover=f"""
def test_failover(drill):
    report = drill.run("scenarios/scenario.yaml", targets={str(drill)!r})
    assert report.passed, report.reason
"""
    )
    before = _requests(cluster)
    refused = pytester.runpytest("test_failover.py")
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(["*'east' protected*--drill-confirm-target east*"])
    assert _requests(cluster) == before
    confirmed = pytester.runpytest("test_failover.py", "--drill-confirm-target", "east")
    confirmed.assert_outcomes(passed=1)
    _assert_clean(cluster)


def test_the_scheduler_skips_and_launch_refuses_unconfirmed_runs(
    tmp_path: Path, cluster: Cluster
) -> None:
    folder = tmp_path / "drills"
    _files(folder, cluster, schedule={"cron": "0 3 * * *", "timezone": "UTC"})
    catalog = Catalog(folder)
    catalog.refresh()
    clock = SystemClock()
    seen: list[ev.SchedulerEvent] = []

    def firer(confirmed: frozenset[str]) -> DrillFirer:
        settings = FiringSettings(results_dir=tmp_path / "results", confirmed_targets=confirmed)
        return DrillFirer(
            drills=catalog.scheduled,
            run=launching(clock),
            clock=clock,
            sinks=[seen.append],
            settings=settings,
        )

    before = _requests(cluster)
    skipped = firer(frozenset()).fire("safety-drill", clock.now(), ev.Trigger.RUN_NOW)
    assert isinstance(skipped, ev.DrillRunSkipped) and skipped.reason == "protected"
    # the run function itself refuses too (defence in depth below the firer's check)
    entry = catalog.scheduled()["safety-drill"]
    path, _ = entry.scenarios[0]
    request = DrillRequest(scenario_path=path, drill_path=entry.path, results_dir=tmp_path / "r")
    with pytest.raises(ProtectedTargetError):
        launching(clock)(request, AbortSignal())
    assert _requests(cluster) == before
    ran = firer(frozenset({"east"})).fire("safety-drill", clock.now(), ev.Trigger.RUN_NOW)
    assert isinstance(ran, ev.DrillRunFinished) and ran.status == "passed", ran
    assert cluster.replicas() == 0
    _assert_clean(cluster)
