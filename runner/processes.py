"""Processes on this host: whether one is still the process it was (from /proc).

The one place that reads /proc for liveness: the lab's supervisor and site locks, the run
records and the scheduler's active runs all ask here (`runner.engine.dead_runs` adds the
host: a process on another host cannot be judged from this one).
"""

from __future__ import annotations

import os
from pathlib import Path


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot), or None if unknown."""
    try:
        return int(_stat(pid)[19])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid: int, started: int | None = None) -> bool:
    """True if `pid` is a live (non-zombie) process, and, when `started` (its `start_time`
    as recorded) is given, still the same process: a pid reused by a later process, or a
    container restarted with the same pid, is not the recorded one."""
    if pid <= 0:
        return False
    try:
        fields = _stat(pid)
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:  # /proc not readable here: ask the kernel
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    if fields[0] == "Z":  # a zombie has ended
        return False
    return started is None or len(fields) < 20 or fields[19] == str(started)


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat from its third field (the state) on; the name may hold spaces."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
