"""The APScheduler 3 executor that hands due jobs to the `DrillFirer`.

Persistent job stores pickle a job's function as an import path, so the job cannot carry
the live firer (run function, notifier, metrics). Instead every drill job names the stub
`jobs.scheduled_drill`, and this executor (APScheduler's documented extension point:
subclass `BaseExecutor`, implement `_do_submit_job`) fires the drill whose id the job
has. APScheduler still counts instances (`max_instances=1`) and coalesces missed runs;
the misfire decision is the firer's, with the injected clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apscheduler.executors.base import BaseExecutor

from runner.scheduler import events as ev
from runner.scheduler.firing import DrillFirer


class FiringExecutor(BaseExecutor):  # type: ignore[misc]
    def __init__(self, firer: DrillFirer) -> None:
        super().__init__()
        self.firer = firer

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        future = self.firer.submit(job.id, run_times[-1], ev.Trigger.SCHEDULE)

        def done(f: Any) -> None:
            error = f.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, [])

        future.add_done_callback(done)

    def shutdown(self, wait: bool = True) -> None:
        """The firer's own `stop()` waits for runs; nothing to do here."""
