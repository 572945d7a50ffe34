"""What the scheduler tells its subscribers: frozen, past-tense events.

A scheduled *drill run* fires once per trigger and runs every scenario of the drill in
order. Subscribers (history, metrics, notifications, the log) receive these values
through one callback; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Trigger(StrEnum):
    """Why a drill run fired."""

    SCHEDULE = "schedule"
    RUN_NOW = "run-now"


@dataclass(frozen=True, kw_only=True)
class SchedulerEvent:
    drill: str
    at: datetime
    """When the event happened (aware UTC, from the injected clock)."""


@dataclass(frozen=True, kw_only=True)
class DrillRunSkipped(SchedulerEvent):
    """A fire time passed without a run: blackout, misfire, already running, shutdown..."""

    scheduled_for: datetime
    trigger: Trigger
    reason: str
    """A short machine-friendly cause: blackout, missed, running, protected, removed, stopping."""
    detail: str


@dataclass(frozen=True, kw_only=True)
class DrillRunStarted(SchedulerEvent):
    scheduled_for: datetime
    trigger: Trigger
    scenarios: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ScenarioRunFinished(SchedulerEvent):
    """One scenario of the drill run reached its verdict (or could not start: `error`)."""

    scenario: str
    run_id: str | None
    status: str
    reason: str
    started_at: datetime
    rto_seconds: float | None = None
    rto_objective_seconds: float | None = None
    rpo_seconds: float | None = None
    rpo_objective_seconds: float | None = None
    report: str | None = None
    """Path of the run's HTML report, when it was written."""


@dataclass(frozen=True, kw_only=True)
class DrillRunFinished(SchedulerEvent):
    scheduled_for: datetime
    trigger: Trigger
    status: str
    """The worst status of its scenarios (crashed > error > aborted > failed > inconclusive >
    passed); `crashed` when the process running it died (set by `recovery`)."""
    results: tuple[ScenarioRunFinished, ...]

    @property
    def failed(self) -> bool:
        return self.status != "passed"


EventSink = Callable[[SchedulerEvent], None]

_SEVERITY = ("passed", "inconclusive", "failed", "aborted", "error", "crashed")


def worst(statuses: tuple[str, ...] | list[str]) -> str:
    """The most severe status; an empty run (nothing ran) is an error."""
    if not statuses:
        return "error"
    return max(statuses, key=lambda s: _SEVERITY.index(s) if s in _SEVERITY else len(_SEVERITY))
