"""Runs whose process died: telling them from running ones, and closing them safely.

A run's record says `running` until its process writes the verdict, so a run whose
process was killed (kill -9, out of memory, a lost node) says `running` for ever, its
faults stay until their own duration ends and its target locks until they expire. Every
front-end that meets such a run uses this one module: `drillctl status` and `abort`
(`judge`), `drillctl cleanup` (`finalise_if_dead`, `sweep_faults`) and the scheduler's
recovery (`process_gone` for its active runs, `finalise_dead_run`).

* `process_gone(host, pid, started)`: provably gone, alive, or None (another host: nobody
  here can tell);
* `judge(record, holders=...)` tells a run `running`, `dead` or `unknown`: dead when its
  process on this host is gone, or when a target lock it held has expired (its holder
  stopped renewing it for longer than the lease: the lock is free for the next run by
  design, so the run has lost its claim either way); unknown on another host with no
  expired lock, or with a lock still within its lease (a run that died seconds ago too);
* `close_run(...)` is the one way a dead run is closed: in every target at once, its
  faults are swept by the run's label (each leftover at once too, each within a timeout,
  so many stuck objects take about one timeout, not one each) and the lock is released
  only if the run still holds it (a lock someone took meanwhile stays); only then is its
  record marked `crashed`. The sweep and the release never depend on the record, which
  may be on another host or unwritable;
* `finalise_if_dead(run_id, targets=...)` judges with the targets' locks and closes only a
  provably dead run (`drillctl cleanup`, for every lock holder and every `running` record
  of the drill); `finalise_dead_run(...)` opens a drill's targets and closes a run the
  caller has proven dead (the scheduler: its active-runs table says so).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from runner import processes
from runner.backends import Leftover, LockHolder, TargetBackend
from runner.clock import Clock
from runner.engine.targets import open_target
from runner.errors import DrillError
from runner.journal.files import list_runs, read
from runner.journal.run import Ref, Run
from runner.journal.writer import mark_crashed
from runner.records.results import ResultsError, Warn
from runner.records.store import RUN_ID_RE
from runner.scenario import model

OPERATOR = "drill-runner/recovery"
MAX_PARALLEL = 32
"""Leftovers removed at the same time, at most (per target)."""
REMOVE_TIMEOUT = 30.0
"""Seconds a finalisation waits, in all, for the dead run's faults to go (in parallel)."""


def process_gone(host: str | None, pid: int, started: int | None = None) -> bool | None:
    """True: provably gone; False: alive; None: on another host, so nobody here can tell.

    `started` is the process's start time (`runner.processes.start_time`) when it was
    recorded: a live pid that started at another time is another process (a pid reused, a
    container restarted with the same pid), so the recorded one is gone.
    """
    if host != socket.gethostname():
        return None
    return not processes.alive(pid, started)


# --------------------------------------------------------------------------- judging


class Liveness(StrEnum):
    RUNNING = "running"
    DEAD = "dead"
    UNKNOWN = "unknown"
    FINISHED = "finished"


@dataclass(frozen=True, kw_only=True)
class Judgement:
    run_id: str
    liveness: Liveness
    reason: str


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Every target's lock holder, and the targets whose lock could not be read."""

    holders: dict[str, LockHolder] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def unrecorded(run_id: str) -> Run:
    """A run known only by a lock it holds (no record here): judged by its locks alone."""
    return Run(run_id=run_id, scenario=Ref(name=""), drill=Ref(name=""))


def judge(
    record: Run,
    *,
    holders: Mapping[str, LockHolder] | None = None,
    host: str | None = None,
) -> Judgement:
    """Is the run of this record running, dead or unknown? `holders`: the targets' locks
    (target -> holder) when they could be read; `host`: this machine (default: its name)."""
    run_id = record.run_id

    def said(liveness: Liveness, reason: str) -> Judgement:
        return Judgement(run_id=run_id, liveness=liveness, reason=reason)

    if record.finished:
        return said(Liveness.FINISHED, record.status.value)
    held = {t: h for t, h in (holders or {}).items() if h.run_id == run_id}
    here = host or socket.gethostname()
    pid = record.pid
    if pid is not None and pid <= 0:
        pid = None  # the record names no process: only its locks can tell
    if record.host == here and pid is not None:
        if not processes.alive(pid, record.process_start):
            return said(Liveness.DEAD, f"its process {pid} on this host is gone")
        return said(Liveness.RUNNING, f"process {pid} is running")
    expired = sorted(t for t, h in held.items() if h.expired)
    if expired:
        return said(
            Liveness.DEAD, f"it stopped renewing its lock on {', '.join(expired)} (expired)"
        )
    if held:
        return said(
            Liveness.UNKNOWN,
            f"its lock on {', '.join(sorted(held))} is still within its lease: alive, "
            "or dead for less than a lease (it then expires by itself)",
        )
    if record.host == here:
        return said(Liveness.UNKNOWN, "its record names no process and it holds no lock")
    return said(
        Liveness.UNKNOWN, f"it ran on host {record.host or None!r} and holds no lock to check"
    )


def lock_holders(targets: Mapping[str, TargetBackend]) -> Evidence:
    """Every target's lock holder (targets whose lock cannot be read are left out)."""
    evidence = Evidence()
    for name, backend in targets.items():
        try:
            holder = backend.lock.holder()
        except DrillError as e:
            evidence.errors.append(f"{name}: lock not readable: {e}")
            continue
        if holder is not None:
            evidence.holders[name] = holder
    return evidence


# --------------------------------------------------------------------------- sweeping


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
    timeout: float | None = None,
) -> Swept:
    """Remove the faults drill-runner left in one target (of one run, or older than an
    age), all at once, each waiting at most `timeout` (default: the provider's own), then
    sweep again: what `drillctl cleanup` does to each target, and what closing a dead run
    does. Never raises: what failed is in `errors`, named by target."""
    try:
        found = backend.faults.sweep(run_id=run_id, older_than_seconds=older_than_seconds)
    except DrillError as e:
        return Swept(errors=(f"{name}: {e}",))
    failed: list[str] = []
    removed = _remove_all(backend, found, force=force, timeout=timeout, errors=failed)
    errors = tuple(f"{name}: {e}" for e in failed)
    try:
        left = backend.faults.sweep(run_id=run_id, older_than_seconds=older_than_seconds)
    except DrillError as e:
        return Swept(removed=tuple(removed), errors=(*errors, f"{name}: {e}"))
    return Swept(removed=tuple(removed), left=tuple(left), errors=errors)


def _remove_all(
    backend: TargetBackend,
    found: list[Leftover],
    *,
    force: bool,
    timeout: float | None,
    errors: list[str],
) -> list[Leftover]:
    """Remove every leftover of one target at once (threads; the providers are
    thread-safe); returns what went, appends what did not to `errors`."""
    removed: list[Leftover] = []
    if not found:
        return removed
    with concurrent.futures.ThreadPoolExecutor(min(MAX_PARALLEL, len(found))) as pool:
        futures = {
            pool.submit(backend.faults.remove_leftover, x, force=force, timeout=timeout): x
            for x in found
        }
        for future in concurrent.futures.as_completed(futures):
            try:
                future.result()
            except DrillError as e:
                errors.append(str(e))
                continue
            removed.append(futures[future])
    return sorted(removed, key=lambda x: (x.kind, x.namespace or "", x.name))


def _name(cluster: str, leftover: Leftover) -> str:
    where = f"{leftover.namespace}/{leftover.name}" if leftover.namespace else leftover.name
    return f"{cluster}: {leftover.kind} {where}"


# --------------------------------------------------------------------------- closing


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
    """`marked crashed`, `not found`, `already <status>` or why it was not written."""

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


def close_run(
    run_id: str,
    targets: Mapping[str, TargetBackend],
    *,
    results_dir: Path | None,
    clock: Clock,
    reason: str,
    force: bool = False,
    timeout: float | None = REMOVE_TIMEOUT,
    errors: tuple[str, ...] = (),
) -> Finalised:
    """Close a run proven dead: in every target at once, sweep its faults (each within
    `timeout`; `force` clears stuck finalizers) and release its lock if it still holds
    it; then mark its record `crashed` (`results_dir` None: the record is not here).
    `errors`: problems met before (targets that could not be opened). Never raises."""
    result = _sweep_and_release(run_id, targets, force=force, timeout=timeout, errors=errors)
    if results_dir is None:
        return dataclasses.replace(
            result, record="not here (the run's results folder is on another host)"
        )
    written = mark_crashed(
        results_dir,
        run_id,
        at=clock.now(),
        reason=reason,
        details={
            "by": OPERATOR,
            "faultsRemoved": list(result.removed),
            "faultsLeft": list(result.left),
            "locksReleased": list(result.unlocked),
            "errors": list(result.errors),
        },
    )
    return dataclasses.replace(result, record=written)


def _sweep_and_release(
    run_id: str,
    targets: Mapping[str, TargetBackend],
    *,
    force: bool,
    timeout: float | None,
    errors: tuple[str, ...],
) -> Finalised:
    """In every target at once: sweep the run's faults, then release its lock if it still
    holds it. The record is not touched."""

    def close_in(item: tuple[str, TargetBackend]) -> tuple[str, Swept, bool, list[str]]:
        name, backend = item
        swept = sweep_faults(name, backend, run_id=run_id, force=force, timeout=timeout)
        try:
            return name, swept, backend.lock.release_dead(run_id), []
        except DrillError as e:
            return name, swept, False, [f"{name}: lock not released: {e}"]

    removed: list[str] = []
    left: list[str] = []
    unlocked: list[str] = []
    problems = list(errors)
    if targets:
        with concurrent.futures.ThreadPoolExecutor(len(targets)) as pool:
            for name, swept, released, failed in pool.map(close_in, list(targets.items())):
                removed += [_name(name, x) for x in swept.removed]
                left += [_name(name, x) for x in swept.left]
                problems += [*swept.errors, *failed]
                unlocked += [name] if released else []
    return Finalised(
        run_id=run_id,
        removed=tuple(removed),
        left=tuple(left),
        unlocked=tuple(unlocked),
        errors=tuple(problems),
    )


def finalise_dead_run(
    *,
    run_id: str,
    drill: model.Drill,
    drill_dir: Path,
    results_dir: Path | None,
    clock: Clock,
    reason: str,
    force: bool = False,
    timeout: float | None = REMOVE_TIMEOUT,
) -> Finalised:
    """Open every target of the drill (one that cannot be opened does not stop the others)
    and `close_run` a run the caller has proven dead."""
    opened: dict[str, TargetBackend] = {}
    errors: list[str] = []
    try:
        for name, target in drill.spec.targets.items():
            try:
                opened[name] = open_target(
                    name, target, drill_dir=drill_dir, peers=drill.spec.targets
                )
            except DrillError as e:
                errors.append(f"{name}: cannot open the target: {e}")
        return close_run(
            run_id,
            opened,
            results_dir=results_dir,
            clock=clock,
            reason=reason,
            force=force,
            timeout=timeout,
            errors=tuple(errors),
        )
    finally:
        for backend in opened.values():
            backend.close()


@dataclass(frozen=True, kw_only=True)
class DeadRunCheck:
    """What `finalise_if_dead` found, and did when the run was provably dead."""

    judgement: Judgement
    finalised: Finalised | None = None
    errors: tuple[str, ...] = ()
    """Locks that could not be read (the judgement did without them)."""

    @property
    def done(self) -> bool:
        """Dead, finalised, and nothing of it left as far as every target could tell."""
        return self.finalised is not None and self.finalised.swept and not self.errors


def finalise_if_dead(
    run_id: str,
    *,
    results_dir: Path,
    targets: Mapping[str, TargetBackend],
    clock: Clock,
    host: str | None = None,
    remove_timeout: float = REMOVE_TIMEOUT,
) -> DeadRunCheck:
    """Judge run `run_id` by its record (if `results_dir` has one) and the targets' locks;
    only if it is provably dead, `close_run` it. Never raises."""
    record = _read(results_dir, run_id)
    evidence = lock_holders(targets)
    if record is None:  # no record here: only an expired lock can prove it dead
        record = unrecorded(run_id)
    judgement = judge(record, holders=evidence.holders, host=host)
    if judgement.liveness is not Liveness.DEAD:
        return DeadRunCheck(judgement=judgement, errors=tuple(evidence.errors))
    finalised = close_run(
        run_id,
        targets,
        results_dir=results_dir,
        clock=clock,
        reason=f"the run died without finishing: {judgement.reason}; swept up afterwards",
        timeout=remove_timeout,
    )
    return DeadRunCheck(judgement=judgement, finalised=finalised, errors=tuple(evidence.errors))


def running_runs(
    results_dir: Path, *, drill: str | None = None, warn: Warn = lambda message: None
) -> list[Run]:
    """Records that still say `running` (of one drill, by name, when given); records that
    cannot be read are reported to `warn` and skipped."""
    return [
        r
        for r in list_runs(results_dir, warn)
        if not r.finished and (drill is None or r.drill.name == drill)
    ]


def _read(results_dir: Path, run_id: str) -> Run | None:
    if not RUN_ID_RE.match(run_id):
        return None
    try:
        return read(results_dir / run_id / "run.json")
    except ResultsError:
        return None
