"""The plugin's pure parts: pattern matching, overrides, and reading a record into a report."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from runner.engine.verdict import Status
from runner.journal.run import Run
from runner.measure.results import Bounds, RpoResult, RtoOutcome, RtoResult
from runner.measure.results import Status as Judged
from runner.pytest_plugin.inputs import deep_merge
from runner.pytest_plugin.pattern import matches
from runner.pytest_plugin.report import DrillReport

DEFAULT = ("scenarios/**/*.yaml",)


def test_double_star_spans_zero_or_more_folders() -> None:
    assert matches("scenarios/a.yaml", DEFAULT)
    assert matches("scenarios/lab/b.yaml", DEFAULT)
    assert matches("scenarios/x/y/c.yaml", DEFAULT)
    assert not matches("scenarios/a.yml", DEFAULT)
    assert not matches("drills/scenarios/a.yaml", DEFAULT)
    assert not matches("scenariosX/a.yaml", DEFAULT)


def test_single_star_stays_in_one_folder() -> None:
    assert matches("dr/a.yaml", ("dr/*.yaml",))
    assert not matches("dr/lab/a.yaml", ("dr/*.yaml",))


def test_overrides_merge_mappings_and_replace_the_rest() -> None:
    spec = {"objectives": {"rto": "30s", "rpo": "5s"}, "faults": [{"name": "a"}]}
    merged = deep_merge(spec, {"objectives": {"rto": "1s"}, "faults": []})
    assert merged == {"objectives": {"rto": "1s", "rpo": "5s"}, "faults": []}
    assert spec["objectives"] == {"rto": "30s", "rpo": "5s"}  # the input is not changed


def test_report_reads_measurements_as_timedeltas() -> None:
    record = {
        "runId": "x-1",
        "scenario": {"name": "x"},
        "status": "failed",
        "reason": "RTO: too slow",
        "measurements": {  # a record written by measurement v1 (no bounds)
            "rto": {"seconds": 12.5, "objectiveSeconds": 10, "status": "missed"},
            "rpo": {"seconds": None, "objectiveSeconds": 5, "status": "inconclusive"},
        },
        "phases": [
            {
                "name": "inject",
                "status": "succeeded",
                "startedAt": "2025-01-01T00:00:00+00:00",
                "finishedAt": "2025-01-01T00:00:02.5+00:00",
                "error": None,
            }
        ],
        "faults": [{"cluster": "primary", "fault": "f", "kind": "Lab", "name": "n"}],
        "observed": None,
    }
    report = DrillReport.from_record(Run.from_json(record), record_dir=Path("results/x-1"))
    assert report.status is Status.FAILED and not report.passed
    assert report.rto == timedelta(seconds=12.5)
    assert report.rpo is None
    assert report.rto_objective == timedelta(seconds=10)
    assert report.phases["inject"].duration == timedelta(seconds=2.5)
    assert not report.faults[0].removed
    assert ("rto_seconds", "12.5") in report.properties()
    assert ("rpo_seconds", "unknown") in report.properties()
    assert "NOT REMOVED" in report.summary()


def test_a_pattern_without_a_slash_matches_the_file_name_as_python_files_does() -> None:
    assert matches("scenarios/lab/region-failover.yaml", ("*.yaml",))
    assert matches("region-failover.yaml", ("region-*.yaml",))
    assert matches(None, ("*.yaml",), name="outside.yaml")  # outside the rootdir
    assert not matches("scenarios/lab/region-failover.yml", ("*.yaml",))
    assert not matches("scenarios/lab/region-failover.yaml", ("lab",))
    assert not matches("scenarios/lab/a.yaml", ("scenarios*.yaml",))  # the name only


def test_a_pattern_with_a_slash_matches_the_relative_path() -> None:
    assert matches("scenarios/lab/a.yaml", ("scenarios/lab/*.yaml",))
    assert not matches("other/lab/a.yaml", ("scenarios/lab/*.yaml",))
    assert not matches(None, ("scenarios/**/*.yaml",), name="a.yaml")
    assert matches("x/a.yaml", ("nothing/*.yaml", "*.yaml"))  # any pattern of several


def test_report_rto_is_the_worst_case_the_data_allows() -> None:
    """A user's `assert report.rto <= x` must hold only if it is proven: the upper bound."""
    record = {
        "runId": "x-2",
        "scenario": {"name": "x"},
        "status": "inconclusive",
        "measurements": {
            "rto": RtoResult(
                outcome=RtoOutcome.RECOVERED,
                status=Judged.INCONCLUSIVE,
                explanation="too close",
                bounds=Bounds(lower=90.0, upper=120.0),
                hold_seconds=5.0,
                fault_start=0,
                verdict_start=0,
                objective_seconds=110,
            ).to_json(),
            "rpo": RpoResult(
                status=Judged.INCONCLUSIVE,
                explanation="unbounded",
                bounds=Bounds(lower=3.0, upper=None),
                objective_seconds=5,
            ).to_json(),
        },
        "phases": [],
        "faults": [],
    }
    report = DrillReport.from_record(Run.from_json(record), record_dir=Path("results/x-2"))
    assert report.rto == timedelta(seconds=120)
    assert report.rpo is None
