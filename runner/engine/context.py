"""What every part of one run shares: its inputs, the journal it writes, the status so far,
and the checkpoint every wait goes through.

The checkpoint (`DrillContext.check`) raises when the run must stop: an abort was asked
(Ctrl-C, SIGTERM, `drillctl abort`, a guardrail breach), or, in the forward phases, a
record write has failed. It also renews the targets' locks and evaluates the guardrails
over the whole interval since the last check, so a breach is timed exactly even when it
is detected a step later.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from runner.backends import RunContext, TargetBackend
from runner.clock import Clock
from runner.engine import events as ev
from runner.engine.metrics import Metrics
from runner.engine.verdict import Status
from runner.errors import AbortRequested
from runner.journal.entries import GuardrailBreach, Measurements, Timeline, iso
from runner.journal.writer import JournalWriter
from runner.records.store import RecordWriteError
from runner.scenario import model

UNWRITTEN = "the run record could not be written"


@dataclass(kw_only=True)
class AbortSignal:
    """The cancel event plus why it was set (first reason wins)."""

    event: threading.Event = field(default_factory=threading.Event)
    reason: str = ""

    def request(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()


@dataclass(kw_only=True)
class DrillContext:
    """One run's shared state. The parts of the engine (faults, steps, verification,
    failback) change the run only through this and its journal writer (`record`)."""

    scenario: model.Scenario
    targets: Mapping[str, TargetBackend]
    metrics: Metrics | None
    clock: Clock
    abort: AbortSignal
    on_event: ev.EventSink
    operator: str
    run: RunContext
    record: JournalWriter
    values: dict[str, str]
    """Run-time placeholder values: `run.*`, `steps.<id>.*` and every `captured.<name>`."""
    status_hint: tuple[Status, str] | None = None
    """The first reason the run will not pass (it decides the verdict with the measurements)."""
    phase: str = ""
    """The phase the run is in (what an unexpected error is reported against)."""
    backward_started: bool = False
    """From here on the way back runs: failed writes no longer stop it."""
    guard_checked: datetime | None = None
    """Guardrails are evaluated from here on (None: not watched)."""
    locked: list[str] = field(default_factory=list)
    """Targets whose lock this run holds, in the order taken."""

    # ------------------------------------------------------------------ journal

    def audit(self, action: str, details: Mapping[str, Any], target: str = "") -> None:
        self.record.event(self.clock.now(), self.operator, action, target, details)

    def notice(self, message: str) -> None:
        self.emit(ev.Notice, message=message)
        self.audit("notice", {"message": message})

    def emit(self, cls: type[ev.Event], **fields: Any) -> None:
        self.on_event(cls(at=self.clock.now(), **fields))

    def hint(self, status: Status, reason: str) -> None:
        if self.status_hint is None:
            self.status_hint = (status, reason)

    @property
    def timeline(self) -> Timeline:
        return self.record.run.timeline

    def mark(self, **moments: datetime) -> None:
        """Record moments of the timeline (`fault_start=...`)."""
        self.record.set(timeline=replace(self.timeline, **moments))

    @property
    def measurements(self) -> Measurements:
        return self.record.run.measurements

    def measured(self, **results: Any) -> None:
        """Record measurement results (`rto=...`), keeping the others."""
        self.record.set(measurements=replace(self.measurements, **results))

    def fault_start(self) -> datetime:
        start = self.timeline.fault_start
        return start if start is not None else self.clock.now()

    def start_cluster(self) -> str:
        """The cluster of the fault the measurements start from."""
        name = self.scenario.start_fault()
        return next(f.cluster for f in self.scenario.spec.faults if f.name == name)

    # ------------------------------------------------------------------ waits and checkpoints

    def wait(self, seconds: float, *, guard: bool = True) -> None:
        """Wait, checking guardrails and the abort signal about every second."""
        deadline = self.clock.monotonic() + seconds
        while True:
            if guard:
                self.check()
            left = deadline - self.clock.monotonic()
            if left <= 0:
                return
            if self.clock.sleep(min(left, 1.0), self.abort.event):
                if guard:
                    self.check()  # raises AbortRequested
                return

    def check(self) -> None:
        """A checkpoint: abort if asked, or if a guardrail was breached since the last check;
        in the forward phases, stop once a record write has failed."""
        if self.abort.event.is_set():
            raise AbortRequested(self.abort.reason or "aborted")
        if self.record.failures and not self.backward_started:
            raise RecordWriteError(f"{UNWRITTEN} ({self.record.failures[0]}); stopping the drill")
        for name in self.locked:
            self.targets[name].lock.renew(self.run)
        self._check_guardrails()

    def _check_guardrails(self) -> None:
        guardrails = self.scenario.spec.guardrails
        if not guardrails or self.metrics is None or self.guard_checked is None:
            return
        now = self.clock.now()
        step = self.metrics.step_seconds()
        if (now - self.guard_checked).total_seconds() < step:
            return
        # a breach must last `for`, which can span several checkpoints: look back far
        # enough to see the whole of it (never before the fault start), so a breach still
        # going on is confirmed at the first check that can, whatever the check interval
        span = max(g.for_ for g in guardrails) + timedelta(seconds=2 * step)
        start = max(self.fault_start(), self.guard_checked - span)
        breaches = self.metrics.guardrails(guardrails, start=start, end=now)
        self.guard_checked = now
        if not breaches:
            return
        for item in breaches:
            self.record.append(
                "guardrails",
                GuardrailBreach(name=item.guardrail, value=item.value, breached_at=item.at),
            )
        b = breaches[0]
        self.emit(ev.GuardrailBreached, guardrail=b.guardrail, value=b.value, breached_at=b.at)
        reason = f"guardrail {b.guardrail!r} breached: value {b.value:g} at {iso(b.at)}"
        self.abort.request(reason)
        raise AbortRequested(reason)
