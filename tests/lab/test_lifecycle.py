"""`drillctl lab up/status/down` as a user runs them: real processes, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runner.lab import launcher
from runner.lab.processes import cmdline, descendants
from runner.lab.state import Layout
from runner.processes import alive as pid_alive
from tests.lab.conftest import wait_for

pytestmark = pytest.mark.lab


def drillctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], capture_output=True, text=True, timeout=120
    )


def program(pid: int) -> str:
    args = cmdline(pid)
    return Path(args[0]).name if args else ""


def test_up_status_down_leaves_no_process(lab_dir: Path) -> None:
    up = drillctl("lab", "up", "--state-dir", str(lab_dir))
    assert up.returncode == 0, up.stderr
    assert "primary" in up.stdout and "standby" in up.stdout and "prometheus" in up.stdout

    def streaming() -> bool:
        status = json.loads(
            drillctl("lab", "status", "--state-dir", str(lab_dir), "-o", "json").stdout
        )
        return bool(status["sites"]["west"]["streaming"])

    wait_for(streaming, what="west streaming")
    out = drillctl("lab", "status", "--state-dir", str(lab_dir), "-o", "json")
    status = json.loads(out.stdout)
    assert status["sites"]["east"]["role"] == "primary"
    assert status["sites"]["west"]["role"] == "standby"
    assert status["activeSite"] == "east"
    supervisor = status["supervisor"]["pid"]
    tree = [supervisor, *descendants(supervisor)]
    names = {Path(cmdline(p)[0]).name for p in tree if cmdline(p)}
    assert {"postgres", "prometheus"} <= names
    assert len(tree) >= 10  # supervisor, 2 order services, prometheus, 2 postmasters + children

    down = drillctl("lab", "down", "--state-dir", str(lab_dir))
    assert down.returncode == 0, down.stderr
    assert "killed" not in down.stdout  # everything stopped by itself
    alive = [
        p for p in tree if Path(f"/proc/{p}").exists() and Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    assert alive == []
    assert launcher.leftovers(Layout.of(lab_dir)) == []


def test_status_when_not_running_says_how_to_start(lab_dir: Path) -> None:
    out = drillctl("lab", "status", "--state-dir", str(lab_dir))
    assert out.returncode == 3
    assert "drillctl lab up" in out.stderr


def test_down_cleans_up_after_a_dead_supervisor(lab_dir: Path) -> None:
    state = launcher.start(lab_dir)
    tree = [state.supervisor_pid, *descendants(state.supervisor_pid)]
    os.kill(state.supervisor_pid, signal.SIGKILL)  # servers are orphaned, still running
    wait_for(lambda: not pid_alive(state.supervisor_pid), what="supervisor gone")
    servers = {"postgres", "prometheus"}  # order services exit by themselves with their parent
    orphans = [p for p in launcher.leftovers(Layout.of(lab_dir)) if program(p) in servers]
    assert orphans, "postgres and prometheus outlive a killed supervisor"
    killed = launcher.stop(lab_dir)
    assert set(orphans) <= set(killed)
    assert [p for p in tree if pid_alive(p)] == []
    assert launcher.leftovers(Layout.of(lab_dir)) == []
