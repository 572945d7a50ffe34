"""A real lab per test module: supervisor, two PostgreSQL servers, Prometheus, all on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.backends import RunContext
from runner.clock import SystemClock
from runner.lab import launcher
from runner.lab.backend import LabBackend, open_lab_target
from runner.lab.client import LabClient
from runner.scenario import model

pytestmark = pytest.mark.lab


def _needs_binaries() -> None:
    if not Path("/usr/lib/postgresql/15/bin/postgres").exists() or not shutil.which("prometheus"):
        pytest.skip("needs PostgreSQL 15 and prometheus")


@pytest.fixture(scope="module")
def lab_dir() -> Iterator[Path]:
    """A 0755 state folder outside pytest's 0700 tmp tree (postgres must reach it)."""
    _needs_binaries()
    base = Path(tempfile.mkdtemp(prefix="drill-lab-", dir="/tmp"))
    base.chmod(0o755)
    state_dir = base / "lab"
    try:
        yield state_dir
    finally:
        launcher.stop(state_dir)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def lab(lab_dir: Path) -> LabClient:
    return LabClient(launcher.start(lab_dir))


@pytest.fixture(scope="module")
def target_of(lab: LabClient, lab_dir: Path) -> Callable[[str, str], LabBackend]:
    def open_site(name: str, site: str) -> LabBackend:
        target = model.Target(lab=model.LabTarget(site=site, state_dir=str(lab_dir)))
        return open_lab_target(name, target, drill_dir=Path.cwd())

    return open_site


@pytest.fixture(scope="module")
def primary(target_of: Callable[[str, str], LabBackend]) -> LabBackend:
    return target_of("primary", "east")


@pytest.fixture(scope="module")
def secondary(target_of: Callable[[str, str], LabBackend]) -> LabBackend:
    return target_of("secondary", "west")


def make_run(run_id: str) -> RunContext:
    events: list[tuple[str, Any]] = []
    return RunContext(
        run_id=run_id,
        scenario="lab-test",
        drill="lab",
        operator="pytest",
        clock=SystemClock(),
        cancel=threading.Event(),
        log=lambda action, details: events.append((action, dict(details))),
    )


def wait_for(check: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def healthy(client: LabClient) -> bool:
    """East primary with traffic, west streaming and caught up."""
    s = client.status()
    east, west = s["sites"]["east"], s["sites"]["west"]
    return (
        s["activeSite"] == "east"
        and east["role"] == "primary"
        and west["role"] == "standby"
        and west["streaming"]
        and west["lag"]["seconds"] == 0
        and not s["faults"]
    )


def root_owned_by_pid(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")
