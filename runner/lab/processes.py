"""Process trees through /proc: children, signalling a whole tree, finding the lab's processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _all_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (children first, then theirs)."""
    parents: dict[int, list[int]] = {}
    for p in _all_pids():
        fields = _stat_fields(p)
        if fields is not None and fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(p)
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def signal_tree(pid: int, sig: signal.Signals) -> list[int]:
    """Send `sig` to `pid` and all its descendants at once; return the pids signalled."""
    pids = [pid, *descendants(pid)]
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, sig)
    return pids


def wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait until none of `pids` is alive (zombies count as gone); True if they all went."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if (f := _stat_fields(p)) is not None and f[0] != "Z"]
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def kill_child_tree(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGKILL a direct child and its whole tree, then reap the child (no zombie left)."""
    if proc.poll() is None:
        pids = signal_tree(proc.pid, signal.SIGKILL)
        proc.wait(timeout)
        wait_gone(pids, timeout)


def stop_child(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Ask a direct child to stop with `sig`; SIGKILL its tree if it has not within `timeout`."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGCONT)
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_child_tree(proc)


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (the lab's own processes)."""
    me = os.getpid()
    found = []
    for p in _all_pids():
        if p == me:
            continue
        fields = _stat_fields(p)
        if fields is None or fields[0] == "Z":
            continue
        if any(text in arg for arg in cmdline(p)):
            found.append(p)
    return found
