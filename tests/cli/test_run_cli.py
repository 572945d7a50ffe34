"""`drillctl run`, `abort`, `status` and `report` as a user types them (no lab needed here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def drillctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    scenario = tmp_path / "s.yaml"
    scenario.write_text((REPO / "scenarios" / "lab" / "region-failover.yaml").read_text())
    drill = tmp_path / "d.yaml"
    drill.write_text(
        "apiVersion: drill-runner.dev/v1alpha1\nkind: Drill\nmetadata: {name: d}\nspec:\n"
        "  scenarios: [{path: s.yaml}]\n"
        "  targets:\n"
        "    primary: {lab: {site: east, stateDir: nolab}, protected: true}\n"
        "    secondary: {lab: {site: west, stateDir: nolab}}\n"
        "  prometheus: {lab: true}\n"
    )
    return scenario, drill


def test_invalid_scenario_is_exit_2_with_location_and_no_traceback(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    scenario, drill = files
    scenario.write_text(scenario.read_text().replace("rto: 30s", "rto: fast"))
    res = drillctl("run", str(scenario), "--drill", str(drill), cwd=tmp_path)
    assert res.returncode == 2
    assert "spec.objectives.rto: expected a duration" in res.stderr
    assert f"{scenario}:" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "results").exists()


def test_dry_run_shows_the_plan_and_touches_nothing(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    scenario, drill = files
    res = drillctl("run", str(scenario), "--drill", str(drill), "--dry-run", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "[inject] cluster-loss 'lose-primary' in primary for 2m" in res.stdout
    assert "[failover] promote-secondary (lab.promote on secondary" in res.stdout
    assert "[protected]" in res.stdout
    assert not (tmp_path / "results").exists()


def test_a_protected_target_is_refused_without_confirmation(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    scenario, drill = files
    res = drillctl("run", str(scenario), "--drill", str(drill), cwd=tmp_path)
    assert res.returncode == 2
    assert "'primary' is protected" in res.stderr and "--confirm-target primary" in res.stderr


def test_a_missing_lab_is_a_runner_error_naming_the_fix(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    scenario, drill = files
    res = drillctl(
        "run",
        str(scenario),
        "--drill",
        str(drill),
        "--yes",
        "--confirm-target",
        "primary",
        cwd=tmp_path,
    )
    assert res.returncode == 3
    assert "drillctl lab up" in res.stderr and "Traceback" not in res.stderr


def test_a_relative_state_dir_is_the_drills_lab_whatever_the_working_directory(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    """`stateDir: nolab` names <drill folder>/nolab, not <cwd>/nolab (it did before)."""
    scenario, drill = files
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "nolab").mkdir(parents=True)
    args = ["--yes", "--confirm-target", "primary"]
    res = drillctl("run", str(scenario), "--drill", str(drill), *args, cwd=elsewhere)
    assert res.returncode == 3, res.stderr
    assert f"the lab is not running in {tmp_path / 'nolab'};" in " ".join(res.stderr.split())


def test_a_bad_target_override_is_refused(tmp_path: Path, files: tuple[Path, Path]) -> None:
    scenario, drill = files
    res = drillctl(
        "run", str(scenario), "--drill", str(drill), "--target", "nope=ctx", cwd=tmp_path
    )
    assert res.returncode == 2 and "has no target 'nope'" in res.stderr
    res = drillctl("run", str(scenario), "--drill", str(drill), "--target", "primary", cwd=tmp_path)
    assert res.returncode == 2 and "NAME=CONTEXT" in res.stderr


def _record(results: Path, run_id: str, **fields: object) -> None:
    (results / run_id).mkdir(parents=True)
    run = {
        "runId": run_id,
        "scenario": {"name": "s"},
        "drill": {"name": "d", "path": "d.yaml"},
        "status": "failed",
        "reason": "RTO: missed",
        "startedAt": "2026-01-01T00:00:00+00:00",
        "finishedAt": "2026-01-01T00:01:00+00:00",
        "phases": [],
        "faults": [],
        "measurements": {
            "rto": {
                "seconds": 90.0,
                "objectiveSeconds": 60.0,
                "status": "missed",
                "uncertaintySeconds": 1.0,
                "explanation": "too slow",
            }
        },
    }
    run.update(fields)
    (results / run_id / "run.json").write_text(json.dumps(run))


def test_report_and_status_read_records(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _record(results, "s-1")
    _record(results, "s-2", status="running", pid=999999999, host="elsewhere")
    res = drillctl("report", "s-1", "--results", str(results), cwd=tmp_path)
    assert res.returncode == 1
    assert "FAILED: s (run s-1)" in res.stdout and "RTO        90.0s" in res.stdout
    res = drillctl("status", "--results", str(results), "-o", "json", cwd=tmp_path)
    assert res.returncode == 0
    active = json.loads(res.stdout)["activeRuns"]
    assert [(r["runId"], r["alive"]) for r in active] == [("s-2", False)]


def test_abort_of_unknown_or_finished_runs(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _record(results, "s-1")
    res = drillctl("abort", "nope", "--results", str(results), cwd=tmp_path)
    assert res.returncode == 2 and "no run 'nope'" in res.stderr
    res = drillctl("abort", "s-1", "--results", str(results), cwd=tmp_path)
    assert res.returncode == 0 and "not running" in res.stdout
    _record(results, "s-3", status="running", pid=999999999, host="elsewhere")
    res = drillctl("abort", "s-3", "--results", str(results), cwd=tmp_path)
    assert res.returncode == 3 and "drillctl cleanup" in res.stderr
