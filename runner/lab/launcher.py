"""Starting and stopping the lab from outside: spawn the detached supervisor, stop it, wipe it.

`start` returns once a drill can start: the supervisor has written `lab.json` and
answers, Prometheus holds `READY_HISTORY_SECONDS` of every lab target's metrics (the
steady-state windows of the shipped lab scenarios), and every standby streams. It
reports what it is waiting for as it goes. `stop` asks the supervisor to shut down,
and then kills anything of this lab that is still alive (a supervisor that died
leaves its servers behind), and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from runner.errors import LabError
from runner.lab import processes
from runner.lab import topology as topologies
from runner.lab.client import LabClient
from runner.lab.prometheus import history_seconds, scraped_targets
from runner.lab.state import LabState, Layout, read_state
from runner.processes import alive as pid_alive

_SPAWNED: dict[int, subprocess.Popen[bytes]] = {}
_OURS = ("runner.lab.supervisor", "runner.lab.orders")
READY_HISTORY_SECONDS = 12.0
"""The metric history `start` waits for, on every target, the SLI and the replication lag:
the 10 s steady-state windows and RPO lookbacks of the shipped lab scenarios, plus two
scrapes (the gate wants samples from its window's first instant)."""
Progress = Callable[[str], None]


def running_state(layout: Layout) -> LabState | None:
    state = read_state(layout)
    return state if state is not None and pid_alive(state.supervisor_pid) else None


def start(
    state_dir: str | Path,
    *,
    topology: str | topologies.Topology | None = None,
    timeout: float = 120,
    history: float = READY_HISTORY_SECONDS,
    progress: Progress | None = None,
) -> LabState:
    """Start the lab in `state_dir` and wait until a drill can start (see the module doc);
    `topology` is a shipped topology's name or a file (default: the one the state folder
    was built with, else `two-site`), checked before anything starts; `progress` hears
    what it waits for, each time that changes."""
    say = _Changes(progress)
    layout = Layout.of(state_dir)
    if (state := running_state(layout)) is not None:
        raise LabError(f"the lab is already running in {layout.root} (pid {state.supervisor_pid})")
    topologies.record(layout, topologies.choose(layout, topology))
    with layout.log_file.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner.lab.supervisor", "--state-dir", str(layout.root)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _SPAWNED[proc.pid] = proc
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(layout)
        if state is not None and state.supervisor_pid == proc.pid:
            LabClient(state).status()
            say("waiting for Prometheus's first scrape of the lab")
            _wait_first_scrape(state, deadline)
            _wait_ready(state, deadline, history, say)
            say("ready")
            return state
        if proc.poll() is not None:
            tail = layout.log_file.read_text(errors="replace")[-1500:]
            raise LabError(f"the lab supervisor exited (code {proc.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            stop(layout.root)
            raise LabError(f"the lab was not ready after {timeout:.0f}s; see {layout.log_file}")
        time.sleep(0.05)


def _wait_first_scrape(state: LabState, deadline: float) -> None:
    """Prometheus starts scraping about 5 s after it is ready; drills need those samples."""
    # the supervisor's own metrics and every site's order service
    while scraped_targets(state.prometheus_url, state.started_at) < 1 + len(state.sites):
        if time.monotonic() > deadline:
            raise LabError(
                f"the lab's Prometheus has not scraped its targets ({state.prometheus_url})"
            )
        time.sleep(0.2)


def _wait_ready(state: LabState, deadline: float, history: float, say: _Changes) -> None:
    client = LabClient(state)
    while True:
        have = history_seconds(state.prometheus_url, history)
        sites = client.status()["sites"]
        waiting = [] if have >= history else [f"metric history {have:.0f}s of {history:.0f}s"]
        waiting += [
            f"replication to {name} (not streaming yet)"
            for name, site in sorted(sites.items())
            if site["role"] == "standby" and not site["streaming"]
        ]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise LabError(f"the lab was not ready in time: still waiting for {', '.join(waiting)}")
        say("waiting for " + ", ".join(waiting))
        time.sleep(0.5)


class _Changes:
    """Passes a progress message on only when it differs from the previous one."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.last = progress, ""

    def __call__(self, message: str) -> None:
        if self.progress is not None and message != self.last:
            self.progress(message)
        self.last = message


def leftovers(layout: Layout) -> list[int]:
    """Live processes this lab started: its supervisor, order services, PostgreSQL, Prometheus,
    BIND."""
    root = str(layout.root)
    found = []
    for pid in processes.processes_mentioning(root):
        args = processes.cmdline(pid)
        program = os.path.basename(args[0]) if args else ""
        if program in ("postgres", "prometheus", "named") or any(a in _OURS for a in args):
            found.append(pid)
    return found


def stop(state_dir: str | Path, *, timeout: float = 30) -> list[int]:
    """Stop the lab; return the pids that had to be killed because they did not stop."""
    layout = Layout.of(state_dir)
    state = read_state(layout)
    if state is not None and pid_alive(state.supervisor_pid):
        with contextlib.suppress(LabError):
            LabClient(state).shutdown()
        if not processes.wait_gone([state.supervisor_pid], timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.supervisor_pid, signal.SIGTERM)
            processes.wait_gone([state.supervisor_pid], 5)
    killed = []
    for pid in leftovers(layout):
        killed.extend(processes.signal_tree(pid, signal.SIGKILL))
    processes.wait_gone(killed, 10)
    for pid, proc in list(_SPAWNED.items()):
        if proc.poll() is not None:
            del _SPAWNED[pid]
    return killed


def wipe(state_dir: str | Path) -> None:
    """Delete the state folder (the lab must be stopped)."""
    layout = Layout.of(state_dir)
    if running_state(layout) is not None or leftovers(layout):
        raise LabError(f"the lab in {layout.root} is still running; stop it first")
    shutil.rmtree(layout.root, ignore_errors=True)
