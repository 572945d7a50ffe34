"""`drillctl schedule serve`: the drills, the store, leadership, HTTP and firing, together.

Every `poll_seconds` the service ticks: reload changed drill files, renew or seek
leadership, heartbeat its running drills, keep the job store in line with the drills,
finalise the runs of dead processes (`recovery`) and claim run-now requests (leader
only), and refresh the next-run metrics. Only the leader's APScheduler processes jobs;
standbys keep it unstarted or paused. `shutdown()` is the graceful stop: no new fires
here, leadership given up at once (a standby runs what comes due), running drills asked
to abort (they still remove their faults and fail back per policy) and waited for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES

from runner.clock import Clock
from runner.scheduler import events as ev
from runner.scheduler.active import ActiveRuns
from runner.scheduler.catalog import Catalog, DrillEntry
from runner.scheduler.executor import FiringExecutor
from runner.scheduler.exposition import SchedulerMetrics
from runner.scheduler.firing import DrillFirer, FiringSettings, Outcome, RunFunction
from runner.scheduler.history import RunHistory
from runner.scheduler.jobs import new_scheduler, sync_jobs
from runner.scheduler.leader import Leadership
from runner.scheduler.notify import Notifier, NotifySettings, Post, http_post
from runner.scheduler.recovery import Recovery
from runner.scheduler.requests import RunRequests
from runner.scheduler.tables import DEFAULT_STORE, masked, open_store

log = logging.getLogger(__name__)


def default_identity() -> str:
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    drills: Path
    """A folder of drill files (or one file)."""
    store_url: str = DEFAULT_STORE
    poll_seconds: float = 5.0
    """How often drill files, leadership and run-now requests are checked."""
    shutdown_grace_seconds: float = 600.0
    """How long `stop()` waits for aborted drills to clean up."""
    stale_after_seconds: float = 60.0
    """A run on another host whose owner has not said it is alive for this long is taken
    for dead and finalised (on this host a dead pid is known at once)."""
    firing: FiringSettings = field(default_factory=FiringSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)


def log_event(event: ev.SchedulerEvent) -> None:
    if isinstance(event, ev.DrillRunStarted):
        log.info(
            "drill %s started (%s): %s", event.drill, event.trigger, ", ".join(event.scenarios)
        )
    elif isinstance(event, ev.ScenarioRunFinished):
        log.info(
            "drill %s, scenario %s: %s (%s)",
            event.drill,
            event.scenario,
            event.status,
            event.reason,
        )
    elif isinstance(event, ev.DrillRunFinished):
        log.info("drill %s finished: %s", event.drill, event.status)


class SchedulerService:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        leader: Leadership,
        clock: Clock,
        run: RunFunction,
        post: Post = http_post,
        sinks: Iterable[ev.EventSink] = (),
    ) -> None:
        self.settings = settings
        self.leader = leader
        self.clock = clock
        self.engine = open_store(settings.store_url)
        self.catalog = Catalog(settings.drills)
        self.metrics = SchedulerMetrics()
        self.history = RunHistory(self.engine)
        self.requests = RunRequests(self.engine)
        self.notifier = Notifier(self.known, clock=clock, settings=settings.notify, post=post)
        self.active = ActiveRuns(
            self.engine,
            identity=leader.identity,
            clock=clock,
            stale_after_seconds=settings.stale_after_seconds,
        )
        self.firer = DrillFirer(
            drills=self.known,
            run=run,
            clock=clock,
            sinks=(log_event, self.history, self.metrics, self.notifier, *sinks),
            settings=settings.firing,
            problem=self._problem,
            guard=self.active,
        )
        self.recovery = Recovery(
            self.active, drills=self.known, clock=clock, publish=self.firer.publish
        )
        self.scheduler = new_scheduler(self.engine, FiringExecutor(self.firer))
        self.scheduler.add_listener(self._max_instances, EVENT_JOB_MAX_INSTANCES)
        self.leading = False
        self._started = False
        self._loaded = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        log.info("scheduler %s: store %s", leader.identity, masked(settings.store_url))

    # ------------------------------------------------------------------ queries

    def drills(self) -> Mapping[str, DrillEntry]:
        """The drills with a `spec.schedule`: the jobs in the store."""
        return self.catalog.scheduled()

    def known(self) -> Mapping[str, DrillEntry]:
        """Every drill that loads: run-now may run one without a schedule."""
        return self.catalog.entries

    def _problem(self, drill: str) -> str | None:
        problem = self.catalog.problem_of(drill)
        return None if problem is None else problem.text

    def ready(self) -> tuple[bool, str]:
        if not self._loaded:
            return False, "drill files not loaded yet"
        try:
            with self.engine.connect():
                pass
        except Exception as e:
            return False, f"store unreachable ({type(e).__name__})"
        return True, "leader" if self.leading else "standby"

    def next_runs(self) -> dict[str, datetime | None]:
        if not self._started:
            return {}
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    # ------------------------------------------------------------------ the loop

    def tick(self) -> None:
        """One round: reload, leadership, job sync, run-now requests, next-run metrics."""
        if self._stop.is_set():
            return
        changed = self.catalog.refresh() or not self._loaded
        self.metrics.drills_loaded.set(len(self.drills()))
        self.metrics.file_errors.set(len(self.catalog.errors))
        leading = self.leader.hold()
        if leading and not self.leading:
            self._lead()
        elif not leading and self.leading:
            self._stand_by()
        elif leading and changed:
            sync_jobs(self.scheduler, self.drills(), keep=self.catalog.may_define)
        self.active.heartbeat()
        if leading:
            self.recovery.check()
            for request in self.requests.claim(by=self.leader.identity, at=self.clock.now()):
                log.info("run-now of drill %s requested by %s", request.drill, request.requested_by)
                self.firer.submit(request.drill, request.requested_at, ev.Trigger.RUN_NOW)
            self.scheduler.wakeup()  # notice pause/resume done by `drillctl schedule` meanwhile
        self.metrics.set_next_runs(self.next_runs())
        self._loaded = True  # ready once a whole tick went through

    def serve(self) -> bool:
        """Tick until `request_stop()`, then shut down gracefully; True if every run ended."""
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception(
                    "scheduler tick failed; retrying in %.0fs", self.settings.poll_seconds
                )
            self.clock.sleep(self.settings.poll_seconds, self._stop)
        return self.shutdown()

    def request_stop(self) -> None:
        """Safe from a signal handler: the serve loop wakes and shuts down."""
        self._stop.set()
        self._wake.set()

    def shutdown(self) -> bool:
        """Stop gracefully; True if every run ended within the grace.

        In this order: no more fires here (APScheduler paused, and any processing of due
        jobs under way is let finish, so nothing is half-submitted); the firer refuses new
        fires and asks running drills to abort; leadership is given up at once, so a
        standby takes over at its next tick and runs what comes due meanwhile (a due job
        stays in the store untouched); then the aborted drills are waited for (they remove
        their faults and fail back), still heartbeating their active rows.
        """
        self._stop.set()
        self._wake.set()
        if self._started:
            self.scheduler.pause()
            with contextlib.suppress(Exception):
                self.scheduler.get_jobs()  # waits for a `_process_jobs` under way to end
        self.firer.close("the scheduler is shutting down")
        self.leader.release()
        self.leading = False
        self.metrics.leader.set(0)
        grace = self.settings.shutdown_grace_seconds
        ok = self.firer.wait(grace, beat=self.active.heartbeat, every=self.settings.poll_seconds)
        if not ok:
            log.error(
                "drills still running after %.0fs: %s", grace, ", ".join(self.firer.running())
            )
        if not self.recovery.wait(grace):
            log.error("a dead run was still being finalised after %.0fs", grace)
        if self._started:
            self.scheduler.shutdown(wait=False)
            self._started = False
        if not self.notifier.close():
            log.warning(
                "notifications still queued after %.0fs were dropped",
                self.settings.notify.drain_seconds,
            )
        self.engine.dispose()
        return ok

    def fire_now(self, drill: str) -> Outcome:
        """Run a drill here and now, in this thread (tests; see `fire_here`)."""
        self.catalog.refresh()
        self._loaded = True
        return self.firer.fire(drill, self.clock.now(), ev.Trigger.RUN_NOW)

    def fire_here(self, drill: str) -> Outcome:
        """`run-now --here` (and the CronJob): finalise dead runs first, run the drill in
        this process, heartbeat while it runs, shut down; `request_stop()` aborts it."""
        self.catalog.refresh()
        self._loaded = True
        self.recovery.sweep()
        future = self.firer.submit(drill, self.clock.now(), ev.Trigger.RUN_NOW)
        future.add_done_callback(lambda f: self._wake.set())
        while not future.done():
            self.clock.sleep(self.settings.poll_seconds, self._wake)
            if self._stop.is_set():
                log.warning("stopping: the drill aborts, removes its faults and fails back first")
                break
            self.active.heartbeat()
        self.shutdown()  # aborts a run still going, then waits for its cleanup
        return future.result()

    # ------------------------------------------------------------------ internals

    def _lead(self) -> None:
        log.info("%s is the active scheduler", self.leader.identity)
        if not self._started:
            self.scheduler.start(paused=True)
            self._started = True
        sync_jobs(self.scheduler, self.drills(), keep=self.catalog.may_define)
        self.scheduler.resume()
        self.leading = True
        self.metrics.leader.set(1)

    def _stand_by(self) -> None:
        log.warning("%s lost leadership; standing by", self.leader.identity)
        self.scheduler.pause()
        self.leading = False
        self.metrics.leader.set(0)
        running = self.firer.running()
        if running:
            log.warning("drills still running here until they finish: %s", ", ".join(running))

    def _max_instances(self, event: Any) -> None:
        times = list(event.scheduled_run_times or [self.clock.now()])
        self.firer.skip(
            event.job_id,
            times[-1],
            ev.Trigger.SCHEDULE,
            "running",
            "the previous run of this drill has not finished",
        )
