"""The phase scope: every phase of a run records its start, end, status and error the same
way, and turns an error into the run's status.

    with phase(ctx, PhaseName.INJECT):
        ...

A forward phase re-raises what stopped it (the run goes to the way back); a backward phase
(`backward=True`: recover faults, failback, cleanup, report) records any error and lets the
run go on, whatever it was.
"""

from __future__ import annotations

from types import TracebackType

from runner.engine import events as ev
from runner.engine.context import DrillContext
from runner.engine.verdict import Status
from runner.errors import AbortRequested, DrillError
from runner.journal.entries import PhaseEntry, PhaseName, PhaseStatus


class StopRun(Exception):
    """Stop the forward phases; the reason is already recorded (`DrillContext.hint`)."""


class PhaseScope:
    """Records one phase in the journal and the event stream."""

    def __init__(self, ctx: DrillContext, name: PhaseName, *, backward: bool) -> None:
        self.ctx, self.name, self.backward = ctx, name, backward
        self.index = -1

    def __enter__(self) -> None:
        ctx = self.ctx
        ctx.phase = self.name.value
        self.index = ctx.record.append(
            "phases", PhaseEntry(name=self.name, started_at=ctx.clock.now())
        )
        ctx.emit(ev.PhaseStarted, phase=self.name.value)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        ctx = self.ctx
        status, error = self._outcome(exc)
        ctx.record.patch(
            "phases", self.index, status=status, finished_at=ctx.clock.now(), error=error
        )
        ctx.emit(ev.PhaseFinished, phase=self.name.value, status=status.value, error=error)
        # recorded; in the backward phases the run goes on, whatever the error was
        return exc is not None and self.backward and isinstance(exc, Exception)

    def _outcome(self, exc: BaseException | None) -> tuple[PhaseStatus, str | None]:
        if exc is None:
            return PhaseStatus.SUCCEEDED, None
        if isinstance(exc, StopRun):
            hint = self.ctx.status_hint
            return PhaseStatus.STOPPED, hint[1] if hint else None
        if isinstance(exc, AbortRequested):
            return PhaseStatus.ABORTED, exc.reason
        error = str(exc) or type(exc).__name__
        if isinstance(exc, DrillError) or self.backward:
            self.ctx.hint(Status.ERROR, f"{self.name.value}: {error}")
        return PhaseStatus.FAILED, error


def phase(ctx: DrillContext, name: PhaseName, *, backward: bool = False) -> PhaseScope:
    """The scope of one phase (see the module's docstring)."""
    return PhaseScope(ctx, name, backward=backward)
