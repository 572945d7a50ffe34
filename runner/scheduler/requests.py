"""Run-now requests: `drillctl schedule run-now NAME` writes one; the active scheduler claims it.

A claim is a conditional update (`claimed_at IS NULL`), so of two schedulers sharing the
store exactly one takes each request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from runner.scheduler.tables import aware, requests, utc


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    id: int
    drill: str
    requested_at: datetime
    requested_by: str


class RunRequests:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, drill: str, *, by: str, at: datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(requests).values(drill=drill, requested_at=utc(at), requested_by=by)
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def pending(self) -> list[RunRequest]:
        query = select(requests).where(requests.c.claimed_at.is_(None)).order_by(requests.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            RunRequest(
                id=r["id"],
                drill=r["drill"],
                requested_at=aware(r["requested_at"]) or r["requested_at"],
                requested_by=r["requested_by"],
            )
            for r in rows
        ]

    def claim(self, *, by: str, at: datetime) -> list[RunRequest]:
        """Take every unclaimed request; each one is returned to exactly one claimer."""
        taken = []
        for request in self.pending():
            with self.engine.begin() as conn:
                result = conn.execute(
                    update(requests)
                    .where(requests.c.id == request.id, requests.c.claimed_at.is_(None))
                    .values(claimed_at=utc(at), claimed_by=by)
                )
            if result.rowcount == 1:
                taken.append(request)
        return taken
