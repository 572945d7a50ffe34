"""The drills as APScheduler 3 jobs in the persistent SQLAlchemy job store.

One job per scheduled drill, id = the drill's name, `CronTrigger` from `spec.schedule`,
`max_instances=1`, `coalesce=True`, `misfire_grace_time` from the drill. `sync_jobs`
brings the store in line with the drill files without disturbing what it should keep:
an unchanged job keeps its next run time (so a run missed during a restart still fires,
within its grace), a paused job stays paused when its schedule changes, and the job of a
drill whose file exists but does not load is kept (its fires are recorded as skipped,
reason `invalid`), never dropped as if the drill had been deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from sqlalchemy import Engine

from runner.errors import ConfigurationError
from runner.scheduler.catalog import DrillEntry
from runner.scheduler.triggers import trigger_for

log = logging.getLogger(__name__)

JOB_FUNC = "runner.scheduler.jobs:scheduled_drill"


def scheduled_drill(drill: str) -> None:
    """The stub every drill job names; `FiringExecutor` runs the drill instead."""
    raise RuntimeError(f"drill job {drill!r} must run on the FiringExecutor")


class StoreScheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler 3's background scheduler, processing due jobs only while it runs.

    Its thread checks the state before waiting, not after, so after `shutdown()` it
    processes the due jobs once more with the executors already shut down: each due job's
    next run time moves forward and the fire is lost, neither run nor recorded. This one
    leaves due jobs in the store, for the next active scheduler, unless it is running.
    """

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        wait: float | None = super()._process_jobs()
        return wait


def new_scheduler(engine: Engine, executor: Any) -> BackgroundScheduler:
    """The active scheduler's APScheduler on the store, handing due jobs to `executor`."""
    from runner.scheduler.tables import JOBS_TABLE

    return StoreScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={"default": executor},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )


@dataclass(frozen=True, kw_only=True)
class SyncReport:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)


def sync_jobs(
    scheduler: BackgroundScheduler,
    drills: Mapping[str, DrillEntry],
    *,
    keep: Callable[[str], bool] = lambda name: False,
) -> SyncReport:
    """Add, update and remove jobs so the store matches the scheduled drills; a job that
    no drill defines is removed unless `keep(name)` (a file that does not load may)."""
    existing = {job.id: job for job in scheduler.get_jobs()}
    added, changed, errors = [], [], {}
    for name, entry in sorted(drills.items()):
        schedule = entry.schedule
        assert schedule is not None
        try:
            trigger = trigger_for(schedule)
        except ConfigurationError as e:
            errors[name] = str(e)
            log.error("drill %s: %s; not scheduled", name, e)
            continue
        grace = int(schedule.misfire_grace.total_seconds())
        job = existing.get(name)
        if job is None:
            scheduler.add_job(
                JOB_FUNC,
                trigger,
                id=name,
                name=name,
                args=[name],
                misfire_grace_time=grace,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
            added.append(name)
            continue
        same_trigger = repr(job.trigger) == repr(trigger)
        if same_trigger and job.misfire_grace_time == grace:
            continue
        if job.next_run_time is None:  # paused: keep it paused
            scheduler.modify_job(name, trigger=trigger, misfire_grace_time=grace)
        else:
            scheduler.modify_job(name, misfire_grace_time=grace)
            if not same_trigger:
                scheduler.reschedule_job(name, trigger=trigger)
        changed.append(name)
    removed = sorted(name for name in set(existing) - set(drills) if not keep(name))
    for name in removed:
        scheduler.remove_job(name)
    for what, names in (("added", added), ("updated", changed), ("removed", removed)):
        if names:
            log.info("schedule %s: %s", what, ", ".join(names))
    return SyncReport(
        added=tuple(added), changed=tuple(changed), removed=tuple(removed), errors=errors
    )
