"""One firing of a drill: decide whether it may run, run its scenarios, say what happened.

A fire is skipped, with a `DrillRunSkipped` event, when the drill is gone or its file does
not load (and no earlier version of it was ever loaded here), the fire time
was missed by more than `misfireGrace`, it falls in a blackout window, a scenario uses a
protected target nobody confirmed for unattended runs, the same drill is still running
(one run per drill at a time, whatever started it), or the scheduler is stopping.
Otherwise every scenario of the drill runs in order through the injected run function
(default: `runner.engine.launch.launch`), each with an `AbortSignal` that `stop()` sets,
on the models the catalog loaded (a file broken since is not read again).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from runner.clock import Clock
from runner.engine.drill import AbortSignal, RunResult, new_run_id
from runner.engine.launch import DrillRequest, launch
from runner.journal.entries import Rpo, Rto
from runner.scenario import model
from runner.scheduler import events as ev
from runner.scheduler.catalog import DrillEntry
from runner.scheduler.triggers import blackout_at

log = logging.getLogger(__name__)

RunFunction = Callable[[DrillRequest, AbortSignal], RunResult]
"""Runs one scenario of a drill to its verdict (raises only when it could not start)."""
Outcome = ev.DrillRunFinished | ev.DrillRunSkipped


class Holder(Protocol):
    def describe(self) -> str:
        """Who runs the drill, for a `running` skip's detail."""
        ...


class RunGuard(Protocol):
    """One run per drill across processes (the store's active runs, `active.ActiveRuns`)."""

    def claim(
        self,
        drill: str,
        *,
        trigger: str,
        scheduled_for: datetime,
        drill_path: Path,
        results_dir: Path,
    ) -> Holder | None:
        """Take the drill: None when taken, else who holds it."""
        ...

    def started(self, drill: str, scenario: str, run_id: str) -> None:
        """A scenario run is about to start (written before it does)."""
        ...

    def finished(self, drill: str, run_id: str, status: str) -> None: ...

    def release(self, drill: str) -> None: ...


class LocalGuard:
    """No shared store: the firer's own per-drill guard is all there is."""

    def claim(
        self,
        drill: str,
        *,
        trigger: str,
        scheduled_for: datetime,
        drill_path: Path,
        results_dir: Path,
    ) -> Holder | None:
        return None

    def started(self, drill: str, scenario: str, run_id: str) -> None:
        pass

    def finished(self, drill: str, run_id: str, status: str) -> None:
        pass

    def release(self, drill: str) -> None:
        pass


def launching(clock: Clock) -> RunFunction:
    """The real run function: `launch` each scenario, unattended, with the abort signal
    (set by a shutdown, or by `drillctl abort RUN_ID` from another shell)."""

    def run(request: DrillRequest, abort: AbortSignal) -> RunResult:
        return launch(request, clock=clock, abort=abort)  # it watches for `drillctl abort`

    return run


@dataclass(frozen=True, kw_only=True)
class FiringSettings:
    results_dir: Path = Path("results")
    operator: str = "drillctl-schedule"
    confirmed_targets: frozenset[str] = frozenset()
    """Protected targets that unattended runs may use (`--confirm-target`)."""
    max_parallel_drills: int = 4


@dataclass
class DrillFirer:
    """Runs drills on a thread pool; at most one run per drill at a time."""

    drills: Callable[[], Mapping[str, DrillEntry]]
    run: RunFunction
    clock: Clock
    sinks: Iterable[ev.EventSink] = ()
    settings: FiringSettings = field(default_factory=FiringSettings)
    problem: Callable[[str], str | None] = lambda drill: None
    """Why the file of a drill that is not loaded does not load (None: no such file)."""
    guard: RunGuard = field(default_factory=LocalGuard)
    _running: dict[str, AbortSignal] = field(default_factory=dict)
    _futures: set[concurrent.futures.Future[Outcome]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False
    _pool: concurrent.futures.ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ public

    def submit(
        self, drill: str, scheduled_for: datetime, trigger: ev.Trigger
    ) -> concurrent.futures.Future[Outcome]:
        """Fire on the pool; the future holds the outcome event (a `stopping` skip, already
        recorded, once `close()` was called: a fire is never dropped)."""
        with self._lock:
            closed = self._closed
            if not closed:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        self.settings.max_parallel_drills, thread_name_prefix="drill"
                    )
                future = self._pool.submit(self.fire, drill, scheduled_for, trigger)
                self._futures.add(future)
        if closed:
            future = concurrent.futures.Future()
            future.set_result(
                self.skip(
                    drill, scheduled_for, trigger, "stopping", "the scheduler is shutting down"
                )
            )
            return future
        future.add_done_callback(self._forget)
        return future

    def fire(self, drill: str, scheduled_for: datetime, trigger: ev.Trigger) -> Outcome:
        """Decide, run and report one firing (in the calling thread)."""
        entry = self.drills().get(drill)
        reason = self._refusal(drill, entry, scheduled_for, trigger)
        if reason is not None:
            return self.skip(drill, scheduled_for, trigger, *reason)
        assert entry is not None
        abort = AbortSignal()
        with self._lock:
            refused = (
                ("stopping", "the scheduler is shutting down")
                if self._closed
                else ("running", "the previous run of this drill has not finished")
                if drill in self._running
                else None
            )
            if refused is None:
                self._running[drill] = abort
        if refused is not None:
            return self.skip(drill, scheduled_for, trigger, *refused)
        try:
            holder = self.guard.claim(
                drill,
                trigger=str(trigger),
                scheduled_for=scheduled_for,
                drill_path=entry.path,
                results_dir=self.settings.results_dir,
            )
            if holder is not None:
                detail = f"the drill is running on {holder.describe()}"
                return self.skip(drill, scheduled_for, trigger, "running", detail)
            try:
                return self._run(entry, scheduled_for, trigger, abort)
            finally:
                self.guard.release(drill)
        finally:
            with self._lock:
                del self._running[drill]

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def close(self, reason: str) -> None:
        """Refuse new fires (each is recorded as a `stopping` skip) and ask running drills to
        abort: they stop their forward phases, remove their faults and fail back."""
        with self._lock:
            self._closed = True
            running = dict(self._running)
        for name, abort in running.items():
            log.warning("asking drill %s to abort: %s", name, reason)
            abort.request(reason)

    def wait(
        self,
        timeout: float | None = None,
        *,
        beat: Callable[[], None] = lambda: None,
        every: float = 5.0,
    ) -> bool:
        """Wait for the runs under way (calling `beat` every `every` seconds meanwhile);
        True when all ended within `timeout`."""
        with self._lock:
            pending = set(self._futures)
            pool = self._pool
        left = timeout
        while pending:
            step = every if left is None else max(0.0, min(every, left))
            _, pending = concurrent.futures.wait(pending, timeout=step)
            if not pending:
                break
            beat()
            if left is not None:
                left -= step
                if left <= 0:
                    break
        if pool is not None:
            pool.shutdown(wait=not pending)
        return not pending

    def stop(self, reason: str, *, timeout: float | None = None) -> bool:
        """`close()`, then `wait()`: True when every run finished within `timeout`."""
        self.close(reason)
        return self.wait(timeout)

    # ------------------------------------------------------------------ internals

    def _forget(self, future: concurrent.futures.Future[Outcome]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _refusal(
        self,
        drill: str,
        entry: DrillEntry | None,
        scheduled_for: datetime,
        trigger: ev.Trigger,
    ) -> tuple[str, str] | None:
        if self._closed:
            return "stopping", "the scheduler is shutting down"
        if entry is None:
            problem = self.problem(drill)
            if problem is not None:
                return "invalid", f"its drill file does not load: {problem}"
            return "removed", "no drill file defines this drill any more"
        schedule = entry.schedule
        if schedule is not None and trigger is ev.Trigger.SCHEDULE:
            late = self.clock.now() - scheduled_for
            if late > schedule.misfire_grace:
                return "missed", (
                    f"fire time {scheduled_for.isoformat()} missed by {late.total_seconds():.0f}s "
                    f"(misfireGrace {schedule.misfire_grace.total_seconds():.0f}s)"
                )
        if schedule is not None:
            window = blackout_at(schedule, scheduled_for)
            if window is not None:
                name = window.name or "unnamed"
                return "blackout", (
                    f"blackout {name!r} ({window.start.isoformat()} to {window.end.isoformat()})"
                )
        targets = entry.drill.spec.targets
        unconfirmed = sorted(
            {
                cluster
                for _, scenario in entry.scenarios
                for cluster in scenario.cluster_names
                if targets[cluster].protected and cluster not in self.settings.confirmed_targets
            }
        )
        if unconfirmed:
            return "protected", (
                f"protected target(s) {', '.join(unconfirmed)} not confirmed for unattended "
                "runs (--confirm-target)"
            )
        return None

    def _run(
        self, entry: DrillEntry, scheduled_for: datetime, trigger: ev.Trigger, abort: AbortSignal
    ) -> ev.DrillRunFinished:
        names = tuple(s.name for _, s in entry.scenarios)
        self.publish(
            ev.DrillRunStarted(
                drill=entry.name,
                at=self.clock.now(),
                scheduled_for=scheduled_for,
                trigger=trigger,
                scenarios=names,
            )
        )
        results: list[ev.ScenarioRunFinished] = []
        for path, scenario in entry.scenarios:
            if abort.event.is_set():
                log.info("drill %s: not starting %s (%s)", entry.name, scenario.name, abort.reason)
                break
            finished = self._run_scenario(entry, path, scenario, abort)
            results.append(finished)
            self.publish(finished)
        status = ev.worst([r.status for r in results])
        if abort.event.is_set() and len(results) < len(names):
            status = ev.worst([status, "aborted"])
        done = ev.DrillRunFinished(
            drill=entry.name,
            at=self.clock.now(),
            scheduled_for=scheduled_for,
            trigger=trigger,
            status=status,
            results=tuple(results),
        )
        self.publish(done)
        return done

    def _run_scenario(
        self, entry: DrillEntry, path: Path, scenario: model.Scenario, abort: AbortSignal
    ) -> ev.ScenarioRunFinished:
        started = self.clock.now()
        run_id = new_run_id(self.clock, scenario.name)
        self.guard.started(entry.name, scenario.name, run_id)
        request = DrillRequest(
            scenario_path=path,
            drill_path=entry.path,
            results_dir=self.settings.results_dir,
            operator=self.settings.operator,
            interactive=False,
            confirmed_targets=self.settings.confirmed_targets,
            loaded=(scenario, entry.drill),
            run_id=run_id,
        )
        try:
            result = self.run(request, abort)
        except Exception as e:  # the drill could not start: the scheduler keeps going
            self.guard.finished(entry.name, run_id, "error")
            log.error("drill %s, scenario %s could not start: %s", entry.name, scenario.name, e)
            return ev.ScenarioRunFinished(
                drill=entry.name,
                at=self.clock.now(),
                scenario=scenario.name,
                run_id=None,
                status="error",
                reason=f"could not start: {e}",
                started_at=started,
            )
        self.guard.finished(entry.name, run_id, str(result.status))
        m = result.record.measurements
        rto, rpo = _measure(m.rto), _measure(m.rpo)
        return ev.ScenarioRunFinished(
            drill=entry.name,
            at=self.clock.now(),
            scenario=scenario.name,
            run_id=result.run_id,
            status=str(result.status),
            reason=result.reason,
            started_at=started,
            rto_seconds=rto[0],
            rto_objective_seconds=rto[1],
            rpo_seconds=rpo[0],
            rpo_objective_seconds=rpo[1],
            report=str(result.record_dir / result.record.report) if result.record.report else None,
        )

    def skip(
        self, drill: str, scheduled_for: datetime, trigger: ev.Trigger, reason: str, detail: str
    ) -> ev.DrillRunSkipped:
        """Record a fire that did not run (also used for APScheduler's max-instances refusal)."""
        log.warning("drill %s: run skipped (%s: %s)", drill, reason, detail)
        event = ev.DrillRunSkipped(
            drill=drill,
            at=self.clock.now(),
            scheduled_for=scheduled_for,
            trigger=trigger,
            reason=reason,
            detail=detail,
        )
        self.publish(event)
        return event

    def publish(self, event: ev.SchedulerEvent) -> None:
        """Tell every subscriber; one that fails is logged and the others still hear."""
        for sink in self.sinks:
            try:
                sink(event)
            except Exception as e:
                log.error("event subscriber %s failed: %s", type(sink).__name__, type(e).__name__)


def _measure(m: Rto | Rpo | None) -> tuple[float | None, float | None]:
    if m is None:
        return None, None
    return (None if m.seconds is None else round(m.seconds, 3)), m.objective_seconds
