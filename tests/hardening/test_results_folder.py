"""A `--results` folder that is read-only, full, a dangling symlink or a symlink loop: `run`,
`report` and `history --format html` end with one clean error line (never a traceback), and
`run` touches nothing. Read-only and full are a real, small tmpfs mounted by the test (root;
skipped elsewhere, saying why)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.hardening.conftest import copy_recorded, drillctl, one_error
from tests.infra.tmpfs import fill, read_only, tmpfs

CAUSES = {
    "read-only": "Read-only file system (EROFS)",
    "full": "No space left on device (ENOSPC)",
    "dangling": "a symlink to",
    "loop": "a symlink loop",
}


@contextmanager
def broken_results(tmp_path: Path, how: str, *, with_run: bool) -> Iterator[tuple[Path, str]]:
    """(the --results path, a run id in it when `with_run` and the folder can hold one)."""
    if how in ("read-only", "full"):
        with tmpfs(tmp_path / "results", size="512k") as mount:
            run_id = copy_recorded(mount) if with_run else ""
            (read_only if how == "read-only" else fill)(mount)
            yield mount, run_id
        return
    link = tmp_path / "results"
    if how == "dangling":
        link.symlink_to(tmp_path / "gone")
    else:
        link.symlink_to(link.name)
    yield link, ""


MODES = list(CAUSES)


@pytest.mark.parametrize("how", MODES)
def test_run_refuses_before_touching_anything(
    tmp_path: Path, lab_files: tuple[Path, Path], how: str
) -> None:
    scenario, drill = lab_files
    with broken_results(tmp_path, how, with_run=False) as (results, _):
        res = drillctl(
            "run", str(scenario), "--drill", str(drill), "--results", str(results), cwd=tmp_path
        )
        assert res.returncode == 3, res.stderr
        line = one_error(res.stderr)
        assert line.startswith(f"error: --results {results}: ")
        assert CAUSES[how] in line
        if how in ("read-only", "full"):  # not even the run's folder was created
            left = sorted(p.name for p in results.iterdir())
            assert left == (["filler"] if how == "full" else [])
    assert not (tmp_path / "gone").exists()


@pytest.mark.parametrize("how", MODES)
@pytest.mark.parametrize("fmt", ["html", "md"])
def test_report_writes_or_fails_cleanly(tmp_path: Path, how: str, fmt: str) -> None:
    with broken_results(tmp_path, how, with_run=True) as (results, run_id):
        res = drillctl(
            "report",
            run_id or "lab-region-failover-20261124-100307-2f5d",
            "--results",
            str(results),
            "--format",
            fmt,
            cwd=tmp_path,
        )
        line = one_error(res.stderr)
        if run_id:  # read-only or full: the run is there, its report cannot be written
            assert res.returncode == 3
            assert (
                line == f"error: cannot write {results / run_id / f'report.{fmt}'}: {CAUSES[how]}"
            )
            assert not (results / run_id / f"report.{fmt}.tmp").exists()
        else:  # nothing can be read there
            assert res.returncode == 2
            assert line.startswith("Error: no run") or line.startswith("error: no run")


@pytest.mark.parametrize("how", MODES)
def test_history_html_fails_cleanly(tmp_path: Path, how: str) -> None:
    with broken_results(tmp_path, how, with_run=True) as (results, _):
        res = drillctl("history", "--results", str(results), "--format", "html", cwd=tmp_path)
        assert res.returncode == 3
        line = one_error(res.stderr)
        assert line.startswith(f"error: cannot write {results / 'history.html'}: ")
        assert CAUSES[how] in line


def test_a_writable_folder_gets_the_files(tmp_path: Path) -> None:
    """The same commands on a healthy tmpfs write what they should (the control case)."""
    with tmpfs(tmp_path / "results", size="4m") as results:
        run_id = copy_recorded(results)
        for args in (["report", run_id, "--format", "html"], ["history", "--format", "html"]):
            res = drillctl(*args, "--results", str(results), cwd=tmp_path)
            assert res.returncode == 0, res.stderr
        assert (results / run_id / "report.html").stat().st_size > 10_000
        assert (results / "history.html").stat().st_size > 1_000
