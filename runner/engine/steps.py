"""Running a phase's steps: each on the executor that supports its action (the target's
own, else the generic one), with its run-time placeholders filled in, retried as the step
says, journaled with every attempt folded in, and what it captured kept for later steps.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from runner import redact
from runner.backends import StepExecutor, StepResult
from runner.engine import events as ev
from runner.engine.context import DrillContext
from runner.errors import StepError
from runner.journal.entries import StepEntry, StepStatus
from runner.scenario import model, templates


class StepRunner:
    """Runs steps for one run; a failed step raises StepError after it is journaled."""

    def __init__(self, ctx: DrillContext, generic: StepExecutor) -> None:
        self.ctx, self.generic = ctx, generic

    def run(self, phase: str, steps: list[model.Step]) -> None:
        """Each step in turn, with a checkpoint before each and after the last."""
        for step in steps:
            self.ctx.check()
            self._run_one(phase, step)
        self.ctx.check()

    def _executor(self, step: model.Step) -> StepExecutor:
        targets = self.ctx.targets
        if step.cluster is not None and step.cluster in targets:
            backend = targets[step.cluster]
            if backend.steps.supports(step.action):
                return backend.steps
        if self.generic.supports(step.action):
            return self.generic
        where = f"target {step.cluster!r}" if step.cluster else "any target"
        raise StepError(f"step {step.name!r}: action {step.action!r} is not supported by {where}")

    def _run_one(self, phase: str, written: model.Step) -> None:
        executor = self._executor(written)
        index = self._started(phase, written)
        step = self._resolved(written, index)
        attempts = step.retries + 1
        last_error = ""
        attempt = 0
        for attempt in range(1, attempts + 1):
            self.ctx.emit(
                ev.StepStarted, phase=phase, step=step.name, cluster=step.cluster, attempt=attempt
            )
            self.ctx.audit(
                f"step.{step.action}", {"step": step.name, "attempt": attempt}, step.cluster or ""
            )
            try:
                result = executor.execute(step, self.ctx.run)
            except StepError as e:
                last_error = str(e)
                self.ctx.record.patch("steps", index, attempts=attempt, error=last_error)
                if self.ctx.abort.event.is_set():
                    break
                if attempt < attempts:
                    self._retry_later(step, attempt, attempts, last_error)
                continue
            self._succeeded(phase, step, index, attempt, result)
            return
        self._failed(phase, step, index, attempt, last_error)

    def _started(self, phase: str, step: model.Step) -> int:
        """Journal the step as running; its index in the journal's steps."""
        now = self.ctx.clock.now()
        index = self.ctx.record.append(
            "steps",
            StepEntry(
                phase=phase,
                name=step.name,
                action=step.action,
                cluster=step.cluster,
                started_at=now,
                id=step.id or None,
                recipe=step.origin.recipe if step.origin else None,
            ),
        )
        if step.id:
            self.ctx.values[f"steps.{step.id}.started"] = _text(now)
        self.ctx.values["run.now"] = _text(now)
        return index

    def _resolved(self, step: model.Step, index: int) -> model.Step:
        """The step with its run-time placeholders filled in; StepError when one cannot be."""
        try:
            return templates.resolve_step(step, self.ctx.values)
        except (KeyError, ValueError) as e:
            why = (
                f"${{{{ {e.args[0]} }}}} has no value (the step that captures it did not run)"
                if isinstance(e, KeyError)
                else f"with the captured values filled in, the step is not valid: {e}"
            )
            self.ctx.record.patch(
                "steps",
                index,
                status=StepStatus.FAILED,
                finished_at=self.ctx.clock.now(),
                error=why,
            )
            raise StepError(f"step {step.name!r}: {why}") from None

    def _retry_later(self, step: model.Step, attempt: int, attempts: int, error: str) -> None:
        delay = step.retry_delay.total_seconds()
        self.ctx.notice(
            f"step {step.name!r} attempt #{attempt}/{attempts} failed; will retry in "
            f"{delay:g}s: {error}"
        )
        self.ctx.wait(delay)

    def _succeeded(
        self, phase: str, step: model.Step, index: int, attempt: int, result: StepResult
    ) -> None:
        ctx = self.ctx
        for name, value in result.captured.items():
            if redact.names_a_secret(name.rsplit(".", 1)[-1]):
                redact.register(value)  # masked in every later output, record, report
        finished = ctx.clock.now()
        ctx.record.patch(
            "steps",
            index,
            status=StepStatus.SUCCEEDED,
            attempts=attempt,
            finished_at=finished,
            output=result.output[-2000:],
            error=None,
            # DNS steps' timings feed the RTO's phase breakdown
            **({"details": dict(result.details)} if step.action in model.DNS_ACTIONS else {}),
        )
        if step.id:
            ctx.values[f"steps.{step.id}.finished"] = _text(finished)
        if result.captured:
            ctx.values.update({f"captured.{k}": v for k, v in result.captured.items()})
            ctx.record.change(
                lambda run: replace(run, captured={**run.captured, **result.captured})
            )
        ctx.emit(ev.StepFinished, phase=phase, step=step.name, status="ok", attempts=attempt)

    def _failed(self, phase: str, step: model.Step, index: int, attempt: int, error: str) -> None:
        ctx = self.ctx
        ctx.record.patch("steps", index, status=StepStatus.FAILED, finished_at=ctx.clock.now())
        ctx.emit(
            ev.StepFinished,
            phase=phase,
            step=step.name,
            status="failed",
            attempts=attempt,
            error=error,
        )
        ctx.check()
        raise StepError(f"step {step.name!r} failed after {attempt} attempt(s): {error}")


def _text(t: datetime) -> str:
    """A moment as run-time placeholders and spans read it."""
    return t.isoformat()
