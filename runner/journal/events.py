"""The journal's append-only log (events.jsonl): one audit event a line, who did what to
which target, when. `AuditEvent.to_json` is the line; the writer lives with the record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.journal.entries import JSON, ExerciseEntry, exercise_entry, iso, parse_time


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    time: datetime | None
    actor: str = ""
    action: str
    target: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def exercise(self) -> ExerciseEntry | None:
        """The exercise entry this line records (an approval, a sign-off, a deficiency's
        opening, assignment or closure), None for any other line."""
        return exercise_entry(
            time=self.time,
            actor=self.actor,
            action=self.action,
            target=self.target,
            details=self.details,
        )

    def to_json(self) -> JSON:
        out: JSON = {
            "time": iso(self.time),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
        }
        if self.details:
            out["details"] = dict(self.details)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AuditEvent:
        if not isinstance(d, Mapping):
            raise TypeError("not an object")
        details = d.get("details")
        return cls(
            time=parse_time(d.get("time")),
            actor=str(d.get("actor") or ""),
            action=str(d["action"]),
            target=str(d.get("target") or ""),
            details=dict(details) if isinstance(details, Mapping) else {},
        )
