"""The drill runs going on now, in the store: one row per running drill, whoever runs it.

A fire claims its drill with a row (the drill is the primary key, so of two replicas, or
a replica and a `run-now --here`, exactly one gets it; the other records a `running`
skip). The row says who runs it (identity, host, pid and a token unique to the process),
which scenario runs are under way (their run ids are written before they start), and
when its owner last said it was alive (`heartbeat()`, called by whoever waits in that
process: the service's tick, its shutdown, `run-now --here`). The row goes when the
drill run ends.

A row whose owner is gone is how a replica that becomes active finds the runs of a
process that died (`recovery`): on the same host, its pid is dead or now belongs to a
process that started at another time (a pid reused, a restarted container); on another
host, its heartbeat is older than `stale_after_seconds`. A row is taken for recovery with
a conditional update, so exactly one replica finalises it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from runner import processes
from runner.clock import Clock
from runner.engine.dead_runs import process_gone
from runner.scheduler.tables import active, aware, utc

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ScenarioRun:
    """One scenario run of a drill run, as the row knows it."""

    scenario: str
    run_id: str
    status: str | None = None
    """None while it runs."""


@dataclass(frozen=True, kw_only=True)
class ActiveRun:
    drill: str
    owner: str
    host: str
    pid: int
    pid_start: int | None
    token: str
    trigger: str
    scheduled_for: datetime
    started_at: datetime
    heartbeat_at: datetime
    drill_path: str
    results_dir: str
    runs: tuple[ScenarioRun, ...] = ()
    recovering_by: str | None = None
    gone: str | None = None
    """Why its owner is taken for dead, when the reader checked."""

    def describe(self) -> str:
        text = f"{self.owner} (pid {self.pid} on {self.host}) since {self.started_at:%H:%M:%S} UTC"
        if self.gone:
            text += f"; its process is gone ({self.gone}): the active scheduler finalises it"
        return text


@dataclass
class ActiveRuns:
    """This process's view of the active-runs table: claim, note, heartbeat, release."""

    engine: Engine
    identity: str
    clock: Clock
    stale_after_seconds: float = 60.0
    """Another host's row without a heartbeat for this long is a dead process's."""
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    pid_start: int | None = field(default_factory=lambda: processes.start_time(os.getpid()))
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    _mine: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ this process's runs

    def claim(
        self,
        drill: str,
        *,
        trigger: str,
        scheduled_for: datetime,
        drill_path: Path,
        results_dir: Path,
    ) -> ActiveRun | None:
        """Take the drill; None when taken, else the run that holds it.

        A store that cannot be reached does not stop the game day: the drill runs (its
        targets' own locks still keep runs apart) and the problem is logged.
        """
        now = utc(self.clock.now())
        row = {
            "drill": drill,
            "owner": self.identity,
            "host": self.host,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "token": self.token,
            "trigger": trigger,
            "scheduled_for": utc(scheduled_for),
            "started_at": now,
            "heartbeat_at": now,
            "drill_path": str(drill_path),
            "results_dir": str(results_dir),
            "runs": "[]",
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(active).values(**row))
        except IntegrityError:
            holder = self.get(drill)
            if holder is not None:
                return replace(holder, gone=self.gone(holder))
            return self.claim(
                drill,
                trigger=trigger,
                scheduled_for=scheduled_for,
                drill_path=drill_path,
                results_dir=results_dir,
            )
        except SQLAlchemyError as e:
            log.error("drill %s: store unreachable, running without its claim: %s", drill, e)
            return None
        with self._lock:
            self._mine.add(drill)
        return None

    def started(self, drill: str, scenario: str, run_id: str) -> None:
        """Write a scenario run's id before it starts (a crash still leaves it findable)."""
        self._edit_runs(drill, lambda runs: [*runs, ScenarioRun(scenario=scenario, run_id=run_id)])

    def finished(self, drill: str, run_id: str, status: str) -> None:
        def mark(runs: list[ScenarioRun]) -> list[ScenarioRun]:
            return [
                ScenarioRun(scenario=r.scenario, run_id=r.run_id, status=status)
                if r.run_id == run_id
                else r
                for r in runs
            ]

        self._edit_runs(drill, mark)

    def release(self, drill: str) -> None:
        with self._lock:
            self._mine.discard(drill)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(active).where(active.c.drill == drill, active.c.token == self.token)
                )
        except SQLAlchemyError as e:
            # The heartbeat stops for it: another replica finalises it later, as a crash.
            log.error("drill %s: its active row could not be removed: %s", drill, e)

    def heartbeat(self) -> None:
        """Say that this process is alive, on every row it owns."""
        with self._lock:
            mine = sorted(self._mine)
        if not mine:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(active)
                    .where(active.c.token == self.token, active.c.drill.in_(mine))
                    .values(heartbeat_at=utc(self.clock.now()))
                )
        except SQLAlchemyError as e:
            log.warning("heartbeat of %s not written: %s", ", ".join(mine), type(e).__name__)

    # ------------------------------------------------------------------ everybody's runs

    def get(self, drill: str) -> ActiveRun | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(active).where(active.c.drill == drill)).mappings().first()
        return _run(row) if row is not None else None

    def all(self) -> list[ActiveRun]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(active).order_by(active.c.started_at)).mappings().all()
        return [_run(r) for r in rows]

    def gone(self, run: ActiveRun) -> str | None:
        """Why the process that owns this run is gone, or None (alive, or this process)."""
        if run.token == self.token:
            return None
        if run.host == self.host:
            if process_gone(run.host, run.pid, run.pid_start):
                return f"process {run.pid} on {run.host} is gone"
            return None
        silent = (self.clock.now() - run.heartbeat_at).total_seconds()
        if silent > self.stale_after_seconds:
            return f"no heartbeat from {run.owner} on {run.host} for {silent:.0f}s"
        return None

    def take(self, run: ActiveRun) -> bool:
        """Take a dead process's run for recovery; True for exactly one taker."""
        now = self.clock.now()
        stale = utc(now - timedelta(seconds=self.stale_after_seconds))
        query = (
            update(active)
            .where(
                active.c.drill == run.drill,
                active.c.token == run.token,
                (active.c.recovering_by.is_(None)) | (active.c.recovering_at < stale),
            )
            .values(recovering_by=f"{self.identity}/{self.token}", recovering_at=utc(now))
        )
        with self.engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def forget(self, run: ActiveRun) -> None:
        """The dead run has been finalised: remove its row."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(active).where(active.c.drill == run.drill, active.c.token == run.token)
            )

    # ------------------------------------------------------------------ internals

    def _edit_runs(
        self, drill: str, change: Callable[[list[ScenarioRun]], list[ScenarioRun]]
    ) -> None:
        try:
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(active.c.runs).where(
                        active.c.drill == drill, active.c.token == self.token
                    )
                ).first()
                if row is None:
                    return
                runs = [ScenarioRun(**r) for r in json.loads(row[0] or "[]")]
                text = json.dumps([asdict(r) for r in change(runs)])
                conn.execute(
                    update(active)
                    .where(active.c.drill == drill, active.c.token == self.token)
                    .values(runs=text, heartbeat_at=utc(self.clock.now()))
                )
        except SQLAlchemyError as e:
            log.error("drill %s: its active row could not be updated: %s", drill, e)


def _run(row: Any) -> ActiveRun:
    r = dict(row)
    runs = tuple(ScenarioRun(**x) for x in json.loads(r["runs"] or "[]"))
    return ActiveRun(
        drill=r["drill"],
        owner=r["owner"],
        host=r["host"],
        pid=int(r["pid"]),
        pid_start=r["pid_start"],
        token=r["token"],
        trigger=r["trigger"],
        scheduled_for=aware(r["scheduled_for"]) or r["scheduled_for"],
        started_at=aware(r["started_at"]) or r["started_at"],
        heartbeat_at=aware(r["heartbeat_at"]) or r["heartbeat_at"],
        drill_path=r["drill_path"],
        results_dir=r["results_dir"],
        runs=runs,
        recovering_by=r["recovering_by"],
    )
