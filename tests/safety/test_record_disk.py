"""Safety 1: the backward path never depends on a record write.

The results folder is a real, small tmpfs mounted by the test. A failover step fills it
(ENOSPC) or remounts it read-only (EROFS) while a fault is injected and the Lease held.
`drillctl run` must still remove every fault, fail back (policy always), release the Lease,
and end with exit code 3 and one line on stderr naming the write that failed; never a
traceback. Needs root to mount (CI runs as root); elsewhere the tests skip, saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.backends import PreflightReport, RunContext
from runner.clock import FakeClock
from runner.engine.verdict import Status
from runner.scenario import model
from tests.engine.fakes import MemoryTarget, World
from tests.engine.test_drill import run_drill, scenario
from tests.safety.conftest import Cluster, drillctl
from tests.safety.files import SCALE_BACK, SCALE_DOWN, write


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs at tmp_path/results, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "results"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _command(shell: str) -> dict[str, object]:
    return {"name": "the disk goes bad", "action": "command", "command": ["sh", "-c", shell]}


@pytest.mark.parametrize(
    ("shell", "cause"),
    [
        pytest.param("cat /dev/zero > {mnt}/filler 2>/dev/null; true", "ENOSPC", id="disk-full"),
        pytest.param("mount -o remount,ro {mnt}", "EROFS", id="read-only"),
    ],
)
def test_a_record_that_cannot_be_written_still_removes_faults_and_releases_locks(
    tmp_path: Path, small_fs: Path, cluster: Cluster, shell: str, cause: str
) -> None:
    scenario, drill = write(
        tmp_path,
        cluster.url,
        failover=[SCALE_DOWN, _command(shell.format(mnt=small_fs))],
        failback=[SCALE_BACK],
        policy="always",
    )
    done = drillctl(
        "run", str(scenario), "--drill", str(drill), "--results", str(small_fs), cwd=tmp_path
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1, done.stderr
    line = errors[0]
    assert line.startswith("error: run safety-") and "could not be written" in line, line
    assert cause in line and "every fault removed, every lock released" in line, line
    # what the server says, independently of what the runner says
    assert cluster.chaos_left() == []
    assert cluster.lease_holder() is None
    assert cluster.replicas() == 1  # failback (policy always) ran
    # the summary still shows the truth from memory
    assert "ERROR" in done.stdout and "could not be written" in done.stdout
    # on disk: the last record written before the disk went bad, still `running`
    (record,) = small_fs.glob("*/run.json")
    assert json.loads(record.read_text())["status"] == "running"


class _FillingTarget(MemoryTarget):
    """A target whose preflight fills the results disk, so the ledger intent cannot be
    written: the fault must then never be injected."""

    def __init__(self, world: World, name: str, mnt: Path) -> None:
        super().__init__(world, name)
        self.mnt = mnt

    def preflight(self, scenario: model.Scenario, run: RunContext) -> PreflightReport:
        with contextlib.suppress(OSError), (self.mnt / "filler").open("wb") as f:
            while True:
                f.write(b"\0" * 65536)
        return super().preflight(scenario, run)


def test_an_intent_that_cannot_be_written_is_never_injected(small_fs: Path) -> None:
    world = World(clock=FakeClock())
    targets = {
        "primary": _FillingTarget(world, "primary", small_fs),
        "secondary": MemoryTarget(world, "secondary"),
    }
    result = run_drill(small_fs, world, scenario(), targets=targets)
    assert result.status is Status.ERROR and "could not be written" in result.reason
    assert "ENOSPC" in result.record_failures[0]
    assert not any(c.startswith("inject:") for c in world.calls), world.calls
    assert world.locks == {} and result.locks_held == () and result.faults_left == ()
