"""The run history: every skip, scenario verdict and drill run, in the store's runs table.

Subscribes to scheduler events; `drillctl schedule list` reads the last result from here.
Only names, statuses, reasons and numbers are kept; never a URL or a credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from runner.scheduler import events as ev
from runner.scheduler.tables import aware, runs, utc


@dataclass(frozen=True, kw_only=True)
class HistoryRow:
    drill: str
    kind: str
    scenario: str | None
    trigger: str
    scheduled_for: datetime | None
    started_at: datetime | None
    finished_at: datetime
    status: str
    reason: str
    run_id: str | None
    rto_seconds: float | None
    rpo_seconds: float | None


class RunHistory:
    """Writes events to the runs table and answers 'how did it go last time'."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, event: ev.SchedulerEvent) -> None:
        row = _row(event)
        if row is not None:
            with self.engine.begin() as conn:
                conn.execute(insert(runs).values(**row))

    def last(self, drill: str) -> HistoryRow | None:
        """The last drill run or skip of a drill."""
        found = self.recent(drill, kinds=("drill", "skipped"), limit=1)
        return found[0] if found else None

    def recent(
        self, drill: str | None = None, *, kinds: tuple[str, ...] = (), limit: int = 50
    ) -> list[HistoryRow]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if drill is not None:
            query = query.where(runs.c.drill == drill)
        if kinds:
            query = query.where(runs.c.kind.in_(kinds))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            HistoryRow(
                drill=r["drill"],
                kind=r["kind"],
                scenario=r["scenario"],
                trigger=r["trigger"],
                scheduled_for=aware(r["scheduled_for"]),
                started_at=aware(r["started_at"]),
                finished_at=aware(r["finished_at"]) or r["finished_at"],
                status=r["status"],
                reason=r["reason"],
                run_id=r["run_id"],
                rto_seconds=r["rto_seconds"],
                rpo_seconds=r["rpo_seconds"],
            )
            for r in rows
        ]


def _row(event: ev.SchedulerEvent) -> dict[str, Any] | None:
    if isinstance(event, ev.DrillRunSkipped):
        return {
            "drill": event.drill,
            "kind": "skipped",
            "trigger": str(event.trigger),
            "scheduled_for": utc(event.scheduled_for),
            "finished_at": utc(event.at),
            "status": "skipped",
            "reason": f"{event.reason}: {event.detail}",
        }
    if isinstance(event, ev.ScenarioRunFinished):
        return {
            "drill": event.drill,
            "kind": "scenario",
            "scenario": event.scenario,
            "trigger": "",
            "started_at": utc(event.started_at),
            "finished_at": utc(event.at),
            "status": event.status,
            "reason": event.reason,
            "run_id": event.run_id,
            "rto_seconds": event.rto_seconds,
            "rpo_seconds": event.rpo_seconds,
        }
    if isinstance(event, ev.DrillRunFinished):
        started = min((r.started_at for r in event.results), default=event.at)
        return {
            "drill": event.drill,
            "kind": "drill",
            "trigger": str(event.trigger),
            "scheduled_for": utc(event.scheduled_for),
            "started_at": utc(started),
            "finished_at": utc(event.at),
            "status": event.status,
            "reason": "; ".join(f"{r.scenario}: {r.status}" for r in event.results),
        }
    return None
