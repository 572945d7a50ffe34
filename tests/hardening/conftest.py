"""Shared pieces of the hardening suites: drillctl in a fresh process, a lab drill and
scenario laid out as in the repository, and recorded runs to read back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "tests" / "reports" / "fixtures" / "lab-region-failover-20261124-100307-2f5d"
"""A real, passed lab run (see tests/reports/fixtures/README.md)."""


def drillctl(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`drillctl ARGS` in a fresh process (stdin not a terminal), as CI would run it."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


@pytest.fixture
def lab_files(tmp_path: Path) -> tuple[Path, Path]:
    """(scenario, drill) of the lab's region failover, for a lab that is not running."""
    shutil.copytree(REPO / "scenarios" / "lab", tmp_path / "scenarios" / "lab")
    (tmp_path / "drills").mkdir()
    drill = tmp_path / "drills" / "lab.yaml"
    state = tmp_path / "no-lab"
    text = (REPO / "drills" / "lab.yaml").read_text()
    for site in ("east", "west"):
        text = text.replace(f"site: {site}", f"site: {site}\n        stateDir: {state}")
    drill.write_text(text)
    return tmp_path / "scenarios" / "lab" / "region-failover.yaml", drill


def copy_recorded(results: Path) -> str:
    """Copy the recorded run into `results`; its run id."""
    shutil.copytree(RECORDED, results / RECORDED.name)
    return RECORDED.name


def one_error(stderr: str) -> str:
    """The single `error: ...` line of a clean failure (and nothing like a traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]
