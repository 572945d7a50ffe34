"""Runs whose process died: telling them, and closing one safely.

A run's record says `running` until its process writes the verdict, so a run whose
process was killed (kill -9, out of memory, a lost node) says `running` for ever, its
faults stay until their own duration ends and its target locks until they expire. Every
front-end that meets such a run (the scheduler's recovery, `drillctl cleanup`, `status`)
uses this module:

* `process_gone(host, pid)` says whether the process is provably gone: only on its own
  host can that be known (elsewhere the answer is None, "cannot tell");
* `finalise_dead_run(...)` sweeps the run's faults in every target of its drill (by the
  run's label, as `drillctl cleanup --run` does; each target on its own, so one that
  cannot be reached does not stop the others), releases the target locks the run still
  holds, and only then marks its record `crashed` with the reason. The sweep and the
  release never depend on the record, which may be on another host or unwritable.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.backends import Leftover, RunContext, TargetBackend
from runner.clock import Clock
from runner.engine.targets import open_target
from runner.errors import DrillError
from runner.records.store import mark_crashed
from runner.scenario import model

OPERATOR = "drill-runner/recovery"


def process_gone(host: str, pid: int, started: int | None = None) -> bool | None:
    """True: provably gone; False: alive; None: on another host, so nobody here can tell.

    `started` is the process's start time (`process_start`) when it was recorded: a live
    pid that started at another time is another process (a pid reused, a container
    restarted with the same pid), so the recorded one is gone.
    """
    if host != socket.gethostname():
        return None
    if pid <= 0:
        return True
    try:
        fields = _stat(pid)
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    if fields[0] == "Z":  # a zombie is gone
        return True
    return started is not None and int(fields[19]) != started


def process_start(pid: int) -> int | None:
    """When the process started (clock ticks since boot, from /proc), or None if unknown."""
    try:
        return int(_stat(pid)[19])
    except (OSError, IndexError, ValueError):
        return None


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat from its third field (the state) on; the name may hold spaces."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def record_gone(record: Mapping[str, Any]) -> bool | None:
    """For a `running` record: is the process that wrote it provably gone?"""
    try:
        pid = int(record.get("pid") or 0)
    except (TypeError, ValueError):
        return None
    host = record.get("host")
    return process_gone(host, pid) if isinstance(host, str) else None


@dataclass(frozen=True, kw_only=True)
class Finalised:
    """What closing a dead run did."""

    run_id: str
    removed: tuple[str, ...] = ()
    """Each as `cluster: kind namespace/name`."""
    left: tuple[str, ...] = ()
    """Faults still there after the sweep."""
    unlocked: tuple[str, ...] = ()
    """Targets whose lock the run still held and that were released."""
    errors: tuple[str, ...] = ()
    record: str = ""
    """`marked crashed`, `no record`, `already <status>` or why it was not written."""

    @property
    def swept(self) -> bool:
        """Nothing of the run is left injected, as far as every target could tell."""
        return not self.left and not self.errors

    def summary(self) -> str:
        parts = [
            f"{len(self.removed)} fault(s) removed"
            + (f" ({', '.join(self.removed)})" if self.removed else ""),
        ]
        if self.left:
            parts.append(f"LEFT: {', '.join(self.left)}")
        if self.unlocked:
            parts.append(f"lock released on {', '.join(self.unlocked)}")
        parts += [f"error: {e}" for e in self.errors]
        parts.append(f"record {self.record}")
        return "; ".join(parts)


def finalise_dead_run(
    *,
    run_id: str,
    drill: model.Drill,
    drill_dir: Path,
    results_dir: Path | None,
    clock: Clock,
    reason: str,
    force: bool = False,
    only: set[str] | None = None,
) -> Finalised:
    """Sweep, unlock and close a run whose process is gone (the caller has made sure).

    `only` limits the sweep to those logical clusters (the scenario's own); `force`
    clears stuck finalizers as `drillctl cleanup --force` does.
    """
    removed: list[str] = []
    left: list[str] = []
    unlocked: list[str] = []
    errors: list[str] = []
    run = RunContext(
        run_id=run_id,
        scenario="",
        drill=drill.name,
        operator=OPERATOR,
        clock=clock,
        cancel=threading.Event(),
        log=lambda action, details: None,
    )
    for name, target in drill.spec.targets.items():
        if only is not None and name not in only:
            continue
        try:
            backend = open_target(name, target, drill_dir=drill_dir, peers=drill.spec.targets)
        except DrillError as e:
            errors.append(f"{name}: cannot open the target: {e}")
            continue
        try:
            swept = sweep_faults(name, backend, run_id=run_id, force=force)
            removed += [_name(name, x) for x in swept.removed]
            left += [_name(name, x) for x in swept.left]
            errors += swept.errors
            try:
                if backend.lock.held_by() == run_id:
                    backend.lock.release(run)
                    unlocked.append(name)
            except DrillError as e:
                errors.append(f"{name}: lock not released: {e}")
        finally:
            backend.close()
    result = Finalised(
        run_id=run_id,
        removed=tuple(removed),
        left=tuple(left),
        unlocked=tuple(unlocked),
        errors=tuple(errors),
    )
    if results_dir is None:
        return _with_record(result, "not here (the run's results folder is on another host)")
    written = mark_crashed(
        results_dir,
        run_id,
        at=clock.now(),
        reason=reason,
        details={
            "by": OPERATOR,
            "faultsRemoved": list(removed),
            "faultsLeft": list(left),
            "locksReleased": list(unlocked),
            "errors": list(errors),
        },
    )
    return _with_record(result, written)


def _with_record(result: Finalised, record: str) -> Finalised:
    return Finalised(
        run_id=result.run_id,
        removed=result.removed,
        left=result.left,
        unlocked=result.unlocked,
        errors=result.errors,
        record=record,
    )


@dataclass(frozen=True, kw_only=True)
class Swept:
    """What a sweep of one target did."""

    removed: tuple[Leftover, ...] = ()
    left: tuple[Leftover, ...] = ()
    """Still there after removal (a second sweep)."""
    errors: tuple[str, ...] = ()


def sweep_faults(
    name: str,
    backend: TargetBackend,
    *,
    run_id: str | None,
    older_than_seconds: float | None = None,
    force: bool = False,
) -> Swept:
    """Remove the faults drill-runner left in one target (of one run, or older than an
    age), then sweep again: what `drillctl cleanup` does to each target, and what closing
    a dead run does. Never raises: what failed is in `errors`, named by target."""
    removed: list[Leftover] = []
    errors: list[str] = []
    try:
        found = backend.faults.sweep(run_id=run_id, older_than_seconds=older_than_seconds)
    except DrillError as e:
        return Swept(errors=(f"{name}: {e}",))
    for leftover in found:
        try:
            backend.faults.remove_leftover(leftover, force=force)
            removed.append(leftover)
        except DrillError as e:
            errors.append(f"{name}: {e}")
    try:
        left = backend.faults.sweep(run_id=run_id, older_than_seconds=older_than_seconds)
    except DrillError as e:
        return Swept(removed=tuple(removed), errors=(*errors, f"{name}: {e}"))
    return Swept(removed=tuple(removed), left=tuple(left), errors=tuple(errors))


def _name(cluster: str, leftover: Leftover) -> str:
    where = f"{leftover.namespace}/{leftover.name}" if leftover.namespace else leftover.name
    return f"{cluster}: {leftover.kind} {where}"
