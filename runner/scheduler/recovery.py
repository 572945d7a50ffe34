"""Closing the drill runs of a process that died: found in the store, swept, said `crashed`.

The active scheduler checks the active-runs table on every tick (and `run-now --here`
before it fires). A run whose process is gone (`ActiveRuns.gone`: its pid is dead on this
host, or its heartbeat stopped on another) is taken by exactly one replica, which, on a
thread of its own so that firing goes on:

1. for each scenario run that was under way, sweeps its faults and releases its target
   locks and marks its record `crashed` (`runner.engine.dead_runs`, as `drillctl
   cleanup --run` does);
2. publishes `ScenarioRunFinished` and `DrillRunFinished` with status `crashed`: the
   history, the metrics and the `failure` notification follow from them;
3. removes the row, so the drill can run again (until then its fires are skipped as
   `running`, never started on top of the dead run's faults).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from runner.clock import Clock
from runner.engine.dead_runs import Finalised, finalise_dead_run
from runner.errors import DrillError
from runner.scenario import loader, model
from runner.scheduler import events as ev
from runner.scheduler.active import ActiveRun, ActiveRuns
from runner.scheduler.catalog import DrillEntry

log = logging.getLogger(__name__)

CRASHED = "crashed"


class Recovery:
    def __init__(
        self,
        active: ActiveRuns,
        *,
        drills: Callable[[], Mapping[str, DrillEntry]],
        clock: Clock,
        publish: ev.EventSink,
    ) -> None:
        self.active = active
        self.drills = drills
        self.clock = clock
        self.publish = publish
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recovery")
        self._pending: concurrent.futures.Future[list[str]] | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Start a sweep in the background unless one is going on (called every tick)."""
        with self._lock:
            if self._pending is not None and not self._pending.done():
                return
            self._pending = self._pool.submit(self.sweep)

    def wait(self, timeout: float) -> bool:
        """Wait for a background sweep (shutdown: fault removal is let finish)."""
        with self._lock:
            pending = self._pending
        if pending is None:
            return True
        done, _ = concurrent.futures.wait([pending], timeout=timeout)
        self._pool.shutdown(wait=False)
        return bool(done)

    def sweep(self) -> list[str]:
        """Finalise every run whose process is gone; the drills it closed."""
        closed: list[str] = []
        try:
            runs = self.active.all()
        except Exception as e:  # the store: next tick
            log.warning("active runs not read: %s", type(e).__name__)
            return closed
        for run in runs:
            why = self.active.gone(run)
            if why is None:
                continue
            try:
                if not self.active.take(run):
                    continue  # another replica is on it
                log.error(
                    "drill %s was running on %s: %s; finalising it", run.drill, run.owner, why
                )
                self._finalise(run, why)
                self.active.forget(run)
                closed.append(run.drill)
            except Exception:
                log.exception("drill %s: finalising the dead run failed; retrying later", run.drill)
        return closed

    def _finalise(self, run: ActiveRun, why: str) -> None:
        drill, drill_dir, problem = self._drill(run)
        results_dir = Path(run.results_dir)
        results: list[ev.ScenarioRunFinished] = []
        for scenario in run.runs:
            if scenario.status is not None:
                results.append(
                    ev.ScenarioRunFinished(
                        drill=run.drill,
                        at=self.clock.now(),
                        scenario=scenario.scenario,
                        run_id=scenario.run_id,
                        status=scenario.status,
                        reason="finished before the crash",
                        started_at=run.started_at,
                    )
                )
                continue
            reason = f"the run's process died ({why})"
            if drill is None:
                outcome = f"its faults could not be swept: {problem}"
                log.error("drill %s, run %s: %s", run.drill, scenario.run_id, outcome)
            else:
                done = finalise_dead_run(
                    run_id=scenario.run_id,
                    drill=drill,
                    drill_dir=drill_dir,
                    results_dir=results_dir if results_dir.is_dir() else None,
                    clock=self.clock,
                    reason=reason,
                )
                outcome = done.summary()
                _log(run, scenario.run_id, done)
            finished = ev.ScenarioRunFinished(
                drill=run.drill,
                at=self.clock.now(),
                scenario=scenario.scenario,
                run_id=scenario.run_id,
                status=CRASHED,
                reason=f"{reason}; {outcome}",
                started_at=run.started_at,
            )
            self.publish(finished)
            results.append(finished)
        self.publish(
            ev.DrillRunFinished(
                drill=run.drill,
                at=self.clock.now(),
                scheduled_for=run.scheduled_for,
                trigger=ev.Trigger(run.trigger),
                status=CRASHED,
                results=tuple(results),
            )
        )

    def _drill(self, run: ActiveRun) -> tuple[model.Drill | None, Path, str]:
        """The drill's targets: as loaded now, else from its file as it is."""
        path = Path(run.drill_path)
        entry = self.drills().get(run.drill)
        if entry is not None:
            return entry.drill, entry.path.parent, ""
        try:
            return loader.load_drill(path), path.parent, ""
        except DrillError as e:
            return None, path.parent, f"drill file {path} does not load: {e}"


def _log(run: ActiveRun, run_id: str, done: Finalised) -> None:
    level = logging.WARNING if done.swept else logging.ERROR
    log.log(level, "drill %s, run %s closed as crashed: %s", run.drill, run_id, done.summary())
