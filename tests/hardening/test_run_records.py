"""Run ids and run records read back: an id is never a path (`abort` writes only inside
--results), long or odd ids are clean errors, a corrupt or oddly typed run.json is skipped
with a warning naming it (never breaking `history` or `status` for the whole folder), and a
run id that is taken gets a new one."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import pytest

from runner.journal.run import Ref, Run
from runner.journal.writer import JournalWriter
from runner.records import results
from runner.records.store import RecordWriteError
from tests.hardening.conftest import RECORDED, copy_recorded, drillctl, one_error

GOOD = json.loads((RECORDED / "run.json").read_text())


def _running_record(folder: Path, run_id: str) -> None:
    """A run that looks alive: status running, this host, this test's own pid."""
    folder.mkdir(parents=True)
    data = {**GOOD, "runId": run_id, "status": "running", "host": socket.gethostname()}
    data["pid"] = os.getpid()
    (folder / "run.json").write_text(json.dumps(data))


@pytest.mark.parametrize(
    "run_id",
    [
        "../outside",
        "../../tmp/evil",
        "/tmp/evil",
        "a/b",
        ".",
        "..",
        "x" * 300,
        "Upper-Case",
        "-starts-with-dash",
        "ab",
        "run\x1b[2J",
        "run id",
    ],
)
def test_abort_refuses_anything_but_a_run_id(tmp_path: Path, run_id: str) -> None:
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    _running_record(tmp_path / "outside", "outside")  # what "../outside" would reach
    res = drillctl("abort", "--results", str(results_dir), "--no-wait", "--", run_id, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    line = one_error(res.stderr)
    assert "is not a run id" in line
    assert "\x1b" not in res.stderr
    assert not (tmp_path / "outside" / "abort").exists()
    assert sorted(p.name for p in tmp_path.rglob("abort*")) == []


def test_abort_never_follows_a_run_folder_linked_out_of_results(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    _running_record(tmp_path / "elsewhere", "linked-run")
    (results_dir / "linked-run").symlink_to(tmp_path / "elsewhere")
    res = drillctl("abort", "linked-run", "--results", str(results_dir), "--no-wait", cwd=tmp_path)
    assert res.returncode == 2
    assert "leads out of" in one_error(res.stderr)
    assert not (tmp_path / "elsewhere" / "abort").exists()


def test_abort_writes_the_request_inside_results(tmp_path: Path) -> None:
    """The control case: a real run id of a live run gets its abort file, and only that."""
    results_dir = tmp_path / "results"
    _running_record(results_dir / "live-run-1", "live-run-1")
    (results_dir / "live-run-1" / "abort.tmp").symlink_to(tmp_path / "planted")
    res = drillctl("abort", "live-run-1", "--results", str(results_dir), "--no-wait", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (results_dir / "live-run-1" / "abort").read_text() == "aborted with drillctl abort\n"
    assert not (tmp_path / "planted").exists()  # a link planted at the temp name is not followed


@pytest.mark.parametrize("run_id", ["x" * 300, "../" * 50 + "etc", "a\x1b]8;;http://e/\x07b"])
def test_report_of_a_long_or_odd_run_id_is_a_clean_error(tmp_path: Path, run_id: str) -> None:
    res = drillctl("report", "--results", str(tmp_path), "--", run_id, cwd=tmp_path)
    assert res.returncode == 2
    line = one_error(res.stderr)
    assert line.startswith("error: no run ") and "\x1b" not in line and len(line) < 300


CORRUPT: dict[str, object] = {
    "not-json": b"{ this is not json",
    "not-utf8": b"\xff\xfe\x00garbage",
    "empty": b"",
    "a-list": [1, 2, 3],
    "a-string": "run",
    "null": None,
    "run-id-a-number": {**GOOD, "runId": 12},
    "scenario-a-string": {**GOOD, "scenario": "lab"},
    "scenario-name-a-list": {**GOOD, "scenario": {"name": ["x"]}},
    "status-a-dict": {**GOOD, "status": {"x": 1}},
    "started-at-a-number": {**GOOD, "startedAt": 1700000000},
    "started-at-not-a-time": {**GOOD, "startedAt": "yesterday"},
    "phases-a-dict": {**GOOD, "phases": {"name": "x"}},
    "phases-of-strings": {**GOOD, "phases": ["preflight"]},
    "measurements-a-list": {**GOOD, "measurements": [1]},
    "rto-a-string": {**GOOD, "measurements": {"rto": "fast"}},
    "faults-a-number": {**GOOD, "faults": 3},
}


def _write_corrupt(results_dir: Path) -> dict[str, Path]:
    paths = {}
    for i, (name, content) in enumerate(CORRUPT.items()):
        folder = results_dir / f"bad-{i:02d}-{name}"
        folder.mkdir(parents=True)
        raw = content if isinstance(content, bytes) else json.dumps(content).encode()
        (folder / "run.json").write_bytes(raw)
        paths[name] = folder / "run.json"
    (results_dir / "bad-dir" / "run.json").mkdir(parents=True)  # a folder named run.json
    (results_dir / "bad-loop").mkdir()
    (results_dir / "bad-loop" / "run.json").symlink_to("run.json")
    return paths


def test_history_and_status_skip_corrupt_records_naming_each(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    good = copy_recorded(results_dir)
    running = {**GOOD, "runId": "still-running", "status": "running", "host": "elsewhere"}
    (results_dir / "still-running").mkdir()
    (results_dir / "still-running" / "run.json").write_text(json.dumps(running))
    bad = _write_corrupt(results_dir)
    expected = {str(p) for p in bad.values()} | {
        str(results_dir / "bad-dir" / "run.json"),
        str(results_dir / "bad-loop" / "run.json"),
    }
    commands = [
        ["history"],
        ["history", "--format", "json"],
        ["history", "--format", "html"],
        ["status"],
        ["status", "-o", "json"],
    ]
    for args in commands:
        res = drillctl(*args, "--results", str(results_dir), cwd=tmp_path)
        assert res.returncode == 0, (args, res.stderr)
        assert "Traceback" not in res.stderr
        warnings = res.stderr.splitlines()
        assert all(w.startswith("warning: skipped ") for w in warnings), res.stderr
        named = {m.group() for w in warnings if (m := re.search(r"/\S+/run\.json", w))}
        assert named == expected and len(warnings) == len(expected), (args, res.stderr)
        if args == ["history"] or (args[-1] == "json" and args[0] == "history"):
            assert good in res.stdout
        if args[0] == "status":
            assert "still-running" in res.stdout


def test_report_of_a_corrupt_record_is_a_clean_error(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    bad = _write_corrupt(results_dir)
    for name in ("not-json", "phases-a-dict", "scenario-a-string"):
        run_id = bad[name].parent.name
        for fmt in ("text", "html", "md", "json"):
            res = drillctl(
                "report", run_id, "--results", str(results_dir), "--format", fmt, cwd=tmp_path
            )
            assert res.returncode == 3, res.stderr
            assert one_error(res.stderr).startswith(f"error: {bad[name]} is not a run record: ")


def test_a_taken_run_id_gets_a_new_one(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    (results_dir / "taken-run-1").mkdir(parents=True)
    (results_dir / "taken-run-1" / "run.json").write_text("{}")
    ids = iter(["taken-run-1", "taken-run-1", "fresh-run-2"])
    run_id = results.reserve(results_dir, lambda: next(ids), first="taken-run-1")
    assert run_id == "fresh-run-2" and (results_dir / "fresh-run-2").is_dir()
    assert (results_dir / "taken-run-1" / "run.json").read_text() == "{}"  # untouched
    with pytest.raises(results.ResultsError, match="10 run ids in a row were taken"):
        results.reserve(results_dir, lambda: "taken-run-1")
    with pytest.raises(RecordWriteError, match="another run's record is there"):
        JournalWriter(
            results_dir, Run(run_id="taken-run-1", scenario=Ref(name="x"), drill=Ref(name="y"))
        )
    assert (results_dir / "taken-run-1" / "run.json").read_text() == "{}"


def test_a_run_folder_left_empty_by_a_run_that_never_started_is_removed(
    tmp_path: Path, lab_files: tuple[Path, Path]
) -> None:
    scenario, drill = lab_files  # the lab is not running: the run cannot start
    res = drillctl(
        "run", str(scenario), "--drill", str(drill), "--results", "results", cwd=tmp_path
    )
    assert res.returncode == 3
    assert "the lab is not running" in one_error(res.stderr)
    assert list((tmp_path / "results").iterdir()) == []


def test_the_recorded_fixture_is_a_valid_record() -> None:
    assert Run.from_json(GOOD).to_json() == GOOD
