"""What the engine tells its front-ends as a drill goes: frozen, past-tense events.

The CLI's live view, the pytest plugin and the scheduler subscribe with one callback;
nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class Event:
    at: datetime


@dataclass(frozen=True, kw_only=True)
class DrillStarted(Event):
    run_id: str
    scenario: str
    drill: str
    record_dir: str
    targets: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class PhaseStarted(Event):
    phase: str


@dataclass(frozen=True, kw_only=True)
class PhaseFinished(Event):
    phase: str
    status: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    phase: str
    step: str
    cluster: str | None
    attempt: int


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    phase: str
    step: str
    status: str
    attempts: int
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class FaultInjected(Event):
    cluster: str
    fault: str
    kind: str
    name: str


@dataclass(frozen=True, kw_only=True)
class FaultRemoved(Event):
    cluster: str
    fault: str
    kind: str
    name: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class SliObserved(Event):
    value: float | None
    up: bool


@dataclass(frozen=True, kw_only=True)
class GuardrailBreached(Event):
    guardrail: str
    value: float
    breached_at: datetime


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    message: str


@dataclass(frozen=True, kw_only=True)
class DrillFinished(Event):
    status: str
    reason: str
    record_dir: str
    rto_seconds: float | None
    rpo_seconds: float | None


EventSink = Callable[[Event], None]
