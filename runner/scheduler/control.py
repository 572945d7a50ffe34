"""What `drillctl schedule list|pause|resume|run-now` do to the persistent store.

They work on the store, not on a process: a paused job has no next run time in the job
store, which the active scheduler reads at its next tick; a run-now is a request row that
the active scheduler claims. So they work the same with one scheduler, several replicas,
or none running at the moment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from runner.errors import UsageError
from runner.scheduler.jobs import new_scheduler


@dataclass(frozen=True, kw_only=True)
class JobView:
    drill: str
    next_run: datetime | None
    """None when paused."""
    trigger: str
    misfire_grace_seconds: int | None

    @property
    def paused(self) -> bool:
        return self.next_run is None


@contextlib.contextmanager
def opened(engine: Engine) -> Iterator[BackgroundScheduler]:
    """A scheduler on the store that never runs anything (started paused)."""
    scheduler = new_scheduler(engine)
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


def jobs(engine: Engine) -> list[JobView]:
    with opened(engine) as scheduler:
        return [
            JobView(
                drill=job.id,
                next_run=job.next_run_time,
                trigger=str(job.trigger),
                misfire_grace_seconds=job.misfire_grace_time,
            )
            for job in scheduler.get_jobs()
        ]


def pause(engine: Engine, drill: str) -> None:
    with opened(engine) as scheduler, _known(drill):
        scheduler.pause_job(drill)


def resume(engine: Engine, drill: str) -> datetime | None:
    """Resume; the next fire time counts from now (missed fires are not made up)."""
    with opened(engine) as scheduler, _known(drill):
        job = scheduler.resume_job(drill)
        return job.next_run_time if job is not None else None


@contextlib.contextmanager
def _known(drill: str) -> Iterator[None]:
    try:
        yield
    except JobLookupError:
        raise UsageError(
            f"no scheduled drill {drill!r} in the store (has `drillctl schedule serve` "
            "loaded it yet?)"
        ) from None
