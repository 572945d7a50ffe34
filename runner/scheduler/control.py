"""What `drillctl schedule list|pause|resume` do to the persistent store, and nothing else.

They open APScheduler's job store on its own, never a scheduler: a scheduler, even one
started paused, processes the due jobs one last time when it shuts down, which moved
every missed fire forward without running or recording it. Reading and editing rows
cannot do that. A paused job has no next run time in the store; the active scheduler
notices a pause or resume at its next tick. So these commands work the same with one
scheduler, several replicas, or none running at the moment.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select

from runner.clock import Clock
from runner.errors import UsageError
from runner.scheduler.tables import JOBS_TABLE, aware, store_errors


@dataclass(frozen=True, kw_only=True)
class JobView:
    drill: str
    next_run: datetime | None
    """None when paused."""
    trigger: str
    misfire_grace_seconds: int | None
    problem: str = ""
    """Why the stored job cannot be read (it is shown, never deleted)."""

    @property
    def paused(self) -> bool:
        return self.next_run is None and not self.problem


def _store(engine: Engine) -> SQLAlchemyJobStore:
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    # The store needs a scheduler only for its time zone when it rebuilds a job; this one
    # is never started, so it has no thread and processes nothing.
    store.start(BackgroundScheduler(timezone=UTC), "default")
    return store


def jobs(engine: Engine) -> list[JobView]:
    """Every job in the store, read-only (APScheduler's own listing deletes the rows it
    cannot restore)."""
    table = _store(engine).jobs_t
    query = select(table.c.id, table.c.next_run_time, table.c.job_state).order_by(table.c.id)
    with store_errors(str(engine.url)), engine.connect() as conn:
        rows = conn.execute(query).all()
    return [_view(str(job_id), state) for job_id, _, state in rows]


def _view(job_id: str, state: bytes) -> JobView:
    try:
        job: dict[str, Any] = pickle.loads(state)
    except Exception as e:  # a job written by another version: show it, leave it alone
        return JobView(
            drill=job_id,
            next_run=None,
            trigger="?",
            misfire_grace_seconds=None,
            problem=f"the stored job cannot be read ({type(e).__name__})",
        )
    return JobView(
        drill=job_id,
        next_run=aware(job.get("next_run_time")),
        trigger=str(job.get("trigger")),
        misfire_grace_seconds=job.get("misfire_grace_time"),
    )


def pause(engine: Engine, drill: str) -> None:
    """Clear the job's next run time (kept across restarts)."""
    with store_errors(str(engine.url)):
        store = _store(engine)
        job = _known(store, drill)
        job._modify(next_run_time=None)
        store.update_job(job)


def resume(engine: Engine, drill: str, *, clock: Clock) -> datetime | None:
    """Resume; the next fire time counts from now (missed fires are not made up)."""
    with store_errors(str(engine.url)):
        store = _store(engine)
        job = _known(store, drill)
        following = job.trigger.get_next_fire_time(None, clock.now())
        job._modify(next_run_time=following)
        store.update_job(job)
        return aware(following)


def _known(store: SQLAlchemyJobStore, drill: str) -> Any:
    job = store.lookup_job(drill)
    if job is None:
        raise UsageError(
            f"no scheduled drill {drill!r} in the store (has `drillctl schedule serve` "
            "loaded it yet?)"
        )
    return job
