"""The engine with what recipes add: the baseline phase, captured values that fill later
steps, measurements between recorded instants, and the test failover mode."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.backends import RunContext, StepResult
from runner.clock import FakeClock
from runner.engine.verdict import Status
from runner.errors import StepError
from runner.scenario import loader, model
from tests.engine.fakes import MemoryTarget, World
from tests.engine.test_drill import phases, run_drill

SCENARIO = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Scenario
metadata: {name: restore-drill}
spec:
  clusters: [{name: primary}, {name: secondary}]
  faults:
    - {name: lose-primary, type: cluster-loss, cluster: primary, duration: 10m}
  baseline:
    steps:
      - name: newest backup
        action: capture
        cluster: secondary
        select: {apiVersion: velero.io/v1, kind: Backup, newest: status.completionTimestamp}
        values: {backupStarted: status.startTimestamp, backupDone: status.completionTimestamp,
                 backup: metadata.name}
  failover:
    steps:
      - name: restore
        id: restore
        action: apply
        cluster: secondary
        manifest:
          apiVersion: velero.io/v1
          kind: Restore
          metadata: {name: "drill-${{ run.short }}"}
          spec: {backupName: "${{ captured.backup }}"}
      - name: wait for the restore
        action: capture
        cluster: secondary
        target: {apiVersion: velero.io/v1, kind: Restore, name: "drill-${{ run.short }}"}
        values: {restoreStarted: status.startTimestamp, restoreDone: status.completionTimestamp}
  failback:
    steps:
      - {name: tidy up, action: delete, cluster: secondary,
         target: {apiVersion: velero.io/v1, kind: Restore, name: "drill-${{ run.short }}"}}
  measure:
    spans:
      rto: {from: captured.restoreStarted, to: captured.restoreDone}
      rpo:
        from: {earliest: captured.backupStarted, latest: captured.backupDone}
        to: faultStart
    timings:
      - {name: restore step, from: steps.restore.started, to: steps.restore.finished}
  objectives: {rto: 10m, rpo: 1h}
  timeouts: {observe: 1s}
"""


class ObjectSteps:
    """Kubernetes-like steps on the memory world: records each step as it arrives (with
    its placeholders filled by the engine) and answers captures from `answers`."""

    def __init__(self, answers: dict[str, dict[str, str]]) -> None:
        self.answers = answers
        self.seen: list[model.Step] = []

    def supports(self, action: str) -> bool:
        return action in model.KUBERNETES_ACTIONS

    def execute(self, step: model.Step, run: RunContext) -> StepResult:
        self.seen.append(step)
        run.clock.sleep(2.0)
        if isinstance(step, model.CaptureStep):
            if step.name not in self.answers:
                raise StepError(f"nothing to capture for {step.name}")
            return StepResult(output="captured", captured=self.answers[step.name])
        return StepResult(output=f"{step.action} done")


def targets(world: World, steps: ObjectSteps) -> dict[str, MemoryTarget]:
    out = {n: MemoryTarget(world, n) for n in ("primary", "secondary")}
    out["secondary"].steps = steps  # type: ignore[assignment]
    return out


def load(tmp_path: Path, text: str = SCENARIO, **kw: bool) -> model.Scenario:
    path = tmp_path / "restore.yaml"
    path.write_text(text)
    return loader.load_scenario(path, **kw)


START = datetime(2025, 1, 31, 9, 10, tzinfo=UTC)
ANSWERS = {
    "newest backup": {
        "backupStarted": "2025-01-31T08:59:00Z",
        "backupDone": "2025-01-31T09:00:05Z",
        "backup": "nightly-20250131",
    },
    "wait for the restore": {
        "restoreStarted": "2025-01-31T09:20:00Z",
        "restoreDone": "2025-01-31T09:29:59.5Z",
    },
}


def test_captured_values_fill_later_steps_and_spans_are_measured(tmp_path: Path) -> None:
    world = World(clock=FakeClock(START))
    steps = ObjectSteps(ANSWERS)
    sc = load(tmp_path)
    result = run_drill(tmp_path, world, sc, targets=targets(world, steps))
    assert result.status is Status.PASSED, result.reason
    assert [p for p, _ in phases(result)][:4] == ["preflight", "steady-state", "baseline", "inject"]
    restore = next(s for s in steps.seen if s.name == "restore")
    assert isinstance(restore, model.ApplyStep)
    assert restore.manifest["spec"] == {"backupName": "nightly-20250131"}
    name = restore.manifest["metadata"]["name"]
    assert name == "drill-mem-run-0001"  # run.short: the run id's last 20 characters
    tidy = next(s for s in steps.seen if s.name == "tidy up")
    assert isinstance(tidy, model.DeleteStep) and tidy.target.name == name
    record = result.record.to_json()
    assert record["captured"]["backup"] == "nightly-20250131"
    assert record["mode"] == "drill"
    # RTO: 09:29:59.5 (known to 0.1 s) - 09:20:00 (known to 1 s): [599.5 - 1, 599.6]
    rto = record["measurements"]["rto"]
    assert (rto["lowerSeconds"], rto["upperSeconds"]) == (598.5, 599.6)
    assert rto["status"] == "met" and rto["method"] == "span"
    # RPO: the backup's snapshot point lies in [08:59:00, 09:00:06); the fault start is
    # the engine's (ms resolution)
    fault_start = record["timeline"]["faultStart"]
    assert fault_start.startswith("2025-01-31T09:10:")
    start_s = _seconds_of_day(fault_start)
    rpo = record["measurements"]["rpo"]
    assert rpo["lowerSeconds"] == pytest.approx(start_s - (9 * 3600 + 6), abs=1e-6)
    assert rpo["upperSeconds"] == pytest.approx(start_s + 0.001 - (8 * 3600 + 59 * 60), abs=1e-6)
    assert rpo["status"] == "met"
    (timing,) = record["timings"]
    assert timing["name"] == "restore step" and timing["upperSeconds"] == pytest.approx(
        2.002, abs=0.01
    )


def _seconds_of_day(text: str) -> float:
    clock = text.split("T")[1].rstrip("Z").split("+")[0]
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


@pytest.mark.parametrize(
    ("objective", "status"), [("9m", "missed"), ("9m59s", "inconclusive"), ("10m", "met")]
)
def test_a_span_is_judged_on_its_bounds(tmp_path: Path, objective: str, status: str) -> None:
    world = World(clock=FakeClock(START))
    text = SCENARIO.replace("objectives: {rto: 10m, rpo: 1h}", f"objectives: {{rto: {objective}}}")
    result = run_drill(
        tmp_path, world, load(tmp_path, text), targets=targets(world, ObjectSteps(ANSWERS))
    )
    # bounds [598.5, 599.6] s: 9m (540) is below both, 599 s is inside, 600 s above
    assert result.record.to_json()["measurements"]["rto"]["status"] == status
    expected = {"missed": Status.FAILED, "inconclusive": Status.INCONCLUSIVE, "met": Status.PASSED}
    assert result.status is expected[status]


def test_a_value_that_was_never_captured_fails_the_step_saying_so(tmp_path: Path) -> None:
    world = World(clock=FakeClock(START))
    answers = {k: v for k, v in ANSWERS.items() if k != "newest backup"}
    answers["newest backup"] = {"backupStarted": "x", "backupDone": "y"}  # no 'backup'
    result = run_drill(
        tmp_path, world, load(tmp_path), targets=targets(world, ObjectSteps(answers))
    )
    assert result.status is Status.ERROR
    step = next(s for s in result.record.to_json()["steps"] if s["name"] == "restore")
    assert step["status"] == "failed"
    assert (
        step["error"]
        == "${{ captured.backup }} has no value (the step that captures it did not run)"
    )
    assert "the step that captures it did not run" in result.reason
    assert world.faults == {}  # the fault was removed on the way out


def test_a_captured_value_that_is_not_a_time_makes_the_span_inconclusive(tmp_path: Path) -> None:
    world = World(clock=FakeClock(START))
    answers = dict(ANSWERS)
    answers["wait for the restore"] = {"restoreStarted": "soon", "restoreDone": "later"}
    result = run_drill(
        tmp_path, world, load(tmp_path), targets=targets(world, ObjectSteps(answers))
    )
    rto = result.record.to_json()["measurements"]["rto"]
    assert rto["status"] == "inconclusive"
    assert "captured.restoreStarted = 'soon' is not an RFC 3339 time" in rto["explanation"]
    assert result.status is Status.INCONCLUSIVE


def test_a_test_failover_injects_nothing_and_says_what_it_skipped(tmp_path: Path) -> None:
    world = World(clock=FakeClock(START))
    steps = ObjectSteps(ANSWERS)
    sc = load(tmp_path, test_failover=True)
    result = run_drill(tmp_path, world, sc, targets=targets(world, steps))
    assert not any(c.startswith("inject:") for c in world.calls)
    record = result.record.to_json()
    assert record["mode"] == "test-failover"
    assert [(n["step"], n["what"]) for n in record["testFailover"]] == [
        ("lose-primary", "not injected"),
        ("restore", "skipped"),
        ("tidy up", "skipped"),
        ("timing 'restore step'", "skipped"),
    ]
    assert [s.name for s in steps.seen] == ["newest backup", "wait for the restore"]
    assert record["timeline"]["faultStart"] == record["timeline"]["faultRequested"]
    assert record["faults"] == []
    assert "rpo" in record["measurements"]
    assert result.reason.startswith("test failover (nothing injected, production untouched): ")


def test_the_plan_shows_baseline_recipes_and_what_a_test_failover_skips(tmp_path: Path) -> None:
    from runner.engine.plan import ordered_steps

    normal = dict(ordered_steps(load(tmp_path)))
    assert normal["baseline"].startswith("newest backup (capture on secondary")
    assert "RTO = captured.restoreDone - captured.restoreStarted" in normal["verify"]
    test = ordered_steps(load(tmp_path, test_failover=True))
    assert ("inject", "cluster-loss 'lose-primary' in primary: NOT injected (test)") in test
    assert not any(phase == "failover" and what.startswith("restore (") for phase, what in test)


def test_run_now_is_the_time_each_step_starts(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "      - {name: tidy up",
        "      - {name: stamp, action: patch, cluster: secondary,\n"
        "         target: {apiVersion: v1, kind: ConfigMap, name: c},\n"
        '         patch: {data: {at: "${{ run.now }}"}}}\n'
        "      - {name: tidy up",
    )
    assert text != SCENARIO
    world = World(clock=FakeClock(START))
    steps = ObjectSteps(ANSWERS)
    result = run_drill(tmp_path, world, load(tmp_path, text), targets=targets(world, steps))
    stamp = next(s for s in steps.seen if s.name == "stamp")
    assert isinstance(stamp, model.PatchStep)
    started = next(s for s in result.record.to_json()["steps"] if s["name"] == "stamp")["startedAt"]
    assert stamp.patch == {"data": {"at": started}}
    assert started >= result.record.to_json()["timeline"]["failoverDone"]
