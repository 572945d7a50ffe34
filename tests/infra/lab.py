"""A real local lab for end-to-end tests, driven through `drillctl` as a user drives it.

The session fixture `lab` (declared in tests/conftest.py) starts one lab for the whole
run; the e2e and pytest-plugin tests share it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DRILLCTL = [sys.executable, "-m", "runner"]


@dataclass
class Lab:
    state_dir: Path
    work: Path
    drill: Path
    results: Path

    def drillctl(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*DRILLCTL, *args],
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*DRILLCTL, *args],
            cwd=self.work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_drill(self, scenario: str, *extra: str) -> tuple[int, dict[str, Any], str]:
        proc = self.drillctl(
            "run",
            str(REPO / "scenarios" / "lab" / scenario),
            "--drill",
            str(self.drill),
            "--results",
            str(self.results),
            "--output",
            "json",
            *extra,
        )
        try:
            record = json.loads(proc.stdout)
        except ValueError:
            pytest.fail(f"no JSON record; exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc.returncode, record, proc.stderr

    def status(self) -> dict[str, Any]:
        proc = self.drillctl("lab", "status", "--state-dir", str(self.state_dir), "-o", "json")
        assert proc.returncode == 0, proc.stderr
        data: dict[str, Any] = json.loads(proc.stdout)
        return data

    def running(self) -> bool:
        proc = self.drillctl("lab", "status", "--state-dir", str(self.state_dir), "-o", "json")
        return proc.returncode == 0

    def healthy(self) -> bool:
        """No fault, every process up, east primary and west streaming from it."""
        status = self.status()
        sites = status["sites"]
        return (
            not status["faults"]
            and all(sites[s]["db"]["running"] and sites[s]["orders"]["running"] for s in sites)
            and status["activeSite"] == "east"
            and sites["east"]["role"] == "primary"
            and sites["west"]["role"] == "standby"
        )

    def revive(self) -> None:
        """Start the lab again if an earlier test left it down (say, a `lab reset` killed by
        its timeout), so that test's failure stays its own instead of failing every later one."""
        if self.running():
            return
        self.drillctl("lab", "down", "--state-dir", str(self.state_dir), timeout=120)
        up = self.drillctl("lab", "up", "--state-dir", str(self.state_dir), timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr

    def restore(self) -> None:
        """A running, healthy lab for the next test: wiped and started fresh only if needed."""
        self.revive()
        if self.healthy():
            return
        reset = self.drillctl("lab", "reset", "--state-dir", str(self.state_dir), timeout=300)
        assert reset.returncode == 0, reset.stdout + reset.stderr

    def prometheus(self, expr: str) -> float | None:
        url = json.loads((self.state_dir / "lab.json").read_text())["prometheus_url"]
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as resp:
            result = json.loads(resp.read())["data"]["result"]
        return float(result[0]["value"][1]) if result else None


def _binaries() -> None:
    if not Path("/usr/lib/postgresql/15/bin/postgres").exists() or not shutil.which("prometheus"):
        pytest.skip("needs PostgreSQL 15 and prometheus (scripts/setup.sh installs them)")


def _named() -> bool:
    from runner.lab.dns import named_binary

    return named_binary() is not None


def start_lab(topology: str | None = None, drill_file: str = "lab.yaml") -> Iterator[Lab]:
    """Start a lab (in a shipped topology, default two-site) in a fresh 0755 folder under
    /tmp, with the shipped drill file `drill_file` pointed at it; stop and delete it after."""
    _binaries()
    if topology and topology.startswith("dns") and not _named():
        pytest.skip("needs BIND 9's named (Debian package bind9; scripts/setup.sh installs it)")
    base = Path(tempfile.mkdtemp(prefix="drill-e2e-", dir="/tmp"))
    base.chmod(0o755)
    state = base / "lab"
    # the repository's layout: a drill's scenarios must lie in the drill's tree
    shutil.copytree(REPO / "scenarios" / "lab", base / "scenarios" / "lab")
    (base / "drills").mkdir()
    drill = base / "drills" / drill_file
    text = (REPO / "drills" / drill_file).read_text()
    # relative to the drill's folder (base/drills), not to drillctl's working folder (base)
    text = re.sub(r"( +)site: ([a-z0-9-]+)", r"\1site: \2\n\1stateDir: ../lab", text)
    drill.write_text(text)
    lab = Lab(state_dir=state, work=base, drill=drill, results=base / "results")
    args = ["--topology", topology] if topology else []
    try:  # a lab that did not come up is stopped and deleted too
        up = lab.drillctl("lab", "up", "--state-dir", str(state), *args, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        yield lab  # nothing to wait for: `lab up` returns once a drill can start
    finally:
        lab.drillctl("lab", "down", "--state-dir", str(state), timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def read_run(results: Path) -> dict[str, Any] | None:
    runs = sorted(results.glob("*/run.json"), key=os.path.getmtime)
    if not runs:
        return None
    try:
        data: dict[str, Any] = json.loads(runs[-1].read_text())
    except ValueError:
        return None
    return data
