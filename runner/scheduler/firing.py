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
from typing import Any

from runner.clock import Clock
from runner.engine.drill import AbortSignal, RunResult
from runner.engine.launch import DrillRequest, launch
from runner.scenario import model
from runner.scheduler import events as ev
from runner.scheduler.catalog import DrillEntry
from runner.scheduler.triggers import blackout_at

log = logging.getLogger(__name__)

RunFunction = Callable[[DrillRequest, AbortSignal], RunResult]
"""Runs one scenario of a drill to its verdict (raises only when it could not start)."""
Outcome = ev.DrillRunFinished | ev.DrillRunSkipped


def launching(clock: Clock) -> RunFunction:
    """The real run function: `launch` each scenario, unattended, with the abort signal."""

    def run(request: DrillRequest, abort: AbortSignal) -> RunResult:
        return launch(request, clock=clock, abort=abort)

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
    _running: dict[str, AbortSignal] = field(default_factory=dict)
    _futures: set[concurrent.futures.Future[Outcome]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False
    _pool: concurrent.futures.ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ public

    def submit(
        self, drill: str, scheduled_for: datetime, trigger: ev.Trigger
    ) -> concurrent.futures.Future[Outcome]:
        """Fire on the pool; the future holds the outcome event."""
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self.settings.max_parallel_drills, thread_name_prefix="drill"
                )
            future = self._pool.submit(self.fire, drill, scheduled_for, trigger)
            self._futures.add(future)
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
            if self._closed:
                return self.skip(drill, scheduled_for, trigger, "stopping", "shutting down")
            if drill in self._running:
                detail = "the previous run of this drill has not finished"
                return self.skip(drill, scheduled_for, trigger, "running", detail)
            self._running[drill] = abort
        try:
            return self._run(entry, scheduled_for, trigger, abort)
        finally:
            with self._lock:
                del self._running[drill]

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def stop(self, reason: str, *, timeout: float | None = None) -> bool:
        """Refuse new fires, ask running drills to abort (they still clean up), wait.

        True when every run finished within `timeout`.
        """
        with self._lock:
            self._closed = True
            for name, abort in self._running.items():
                log.warning("asking drill %s to abort: %s", name, reason)
                abort.request(reason)
            pending = set(self._futures)
            pool = self._pool
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        if pool is not None:
            pool.shutdown(wait=not not_done)
        return not not_done

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
        self._publish(
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
            self._publish(finished)
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
        self._publish(done)
        return done

    def _run_scenario(
        self, entry: DrillEntry, path: Path, scenario: model.Scenario, abort: AbortSignal
    ) -> ev.ScenarioRunFinished:
        started = self.clock.now()
        request = DrillRequest(
            scenario_path=path,
            drill_path=entry.path,
            results_dir=self.settings.results_dir,
            operator=self.settings.operator,
            interactive=False,
            confirmed_targets=self.settings.confirmed_targets,
            loaded=(scenario, entry.drill),
        )
        try:
            result = self.run(request, abort)
        except Exception as e:  # the drill could not start: the scheduler keeps going
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
        rto, rpo = (_measure(result.record, k) for k in ("rto", "rpo"))
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
            report=str(result.record_dir / "report.html") if result.record.get("report") else None,
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
        self._publish(event)
        return event

    def _publish(self, event: ev.SchedulerEvent) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception as e:
                log.error("event subscriber %s failed: %s", type(sink).__name__, type(e).__name__)


def _measure(record: Mapping[str, Any], key: str) -> tuple[float | None, float | None]:
    m = (record.get("measurements") or {}).get(key) or {}
    seconds, objective = m.get("seconds"), m.get("objectiveSeconds")
    return (
        float(seconds) if isinstance(seconds, int | float) else None,
        float(objective) if isinstance(objective, int | float) else None,
    )
