"""What the run checks and measures against Prometheus: the steady-state gate before
injection and the check after failback, the failover's recovery (RTO/RPO, polled until the
SLI has recovered and held), the spans between recorded instants, and the target's own
ground truth. Every result goes to the journal as the typed value itself.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from runner.breakdown import rto_phases
from runner.engine import events as ev
from runner.engine.context import DrillContext
from runner.engine.metrics import MeasureResult, Verifier
from runner.errors import DrillError
from runner.journal.entries import Measurements, SteadyStateGate, StepStatus
from runner.journal.observed import Observed
from runner.measure import spans, timebase
from runner.measure.rto import detection
from runner.measure.timebase import canonical
from runner.scenario import model


class Verification:
    """The run's checks and measurements (failover; failback is `FailbackVerification`)."""

    def __init__(self, ctx: DrillContext) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ steady state

    def gate(self) -> bool:
        """The gate before injection: wait up to `timeouts.steadyState` for every check to
        hold (a drill right after another, or after an abort, waits for the system to settle),
        saying what it waits for; False when it never held."""
        ctx = self.ctx
        limit = ctx.scenario.spec.timeouts.steady_state.total_seconds()
        start = ctx.clock.monotonic()
        said: tuple[str, float] | None = None
        while True:
            failing = self.steady_state_failing("before")
            if failing is None:
                return True
            waited = ctx.clock.monotonic() - start
            left = limit - waited
            if left <= 0:
                if said is not None:
                    ctx.notice(f"steady state did not hold within {limit:g}s: {failing}")
                return False
            if said is None or failing != said[0] or waited - said[1] >= 10:
                ctx.notice(f"waiting for steady state ({left:.0f}s left of {limit:g}s): {failing}")
                said = (failing, waited)
            step = ctx.metrics.step_seconds() if ctx.metrics else 1.0
            ctx.wait(min(left, max(1.0, step)))

    def steady_state(self, when: str, *, wait_window: bool = False) -> bool:
        return self.steady_state_failing(when, wait_window=wait_window) is None

    def steady_state_failing(self, when: str, *, wait_window: bool = False) -> str | None:
        """Evaluate the checks and record them under `when`; the first failure, or None."""
        ctx = self.ctx
        checks = ctx.scenario.spec.steady_state
        if not checks or ctx.metrics is None:
            return None
        if wait_window:
            # the whole window must lie after failback: samples at its start still describe
            # the scrape interval before it, so wait two steps more than the window
            settle = 2 * ctx.metrics.step_seconds()
            ctx.wait(max(c.window.total_seconds() for c in checks) + settle, guard=False)
        gate = ctx.metrics.steady_state(checks, end=ctx.clock.now())
        entry = SteadyStateGate(passed=gate.passed, checks=gate.checks)
        ctx.record.set(steady_state={**ctx.record.run.steady_state, when: entry})
        if gate.passed:
            return None
        bad = next((c for c in gate.checks if not c.passed), None)
        return "the checks failed" if bad is None else f"{bad.name}: {bad.reason or 'failed'}"

    # ------------------------------------------------------------------ failover

    def verify(self) -> MeasureResult | None:
        """Poll the verification until the SLI has recovered and held (or the recovery
        window ends), then measure once more: each poll reads only what is new."""
        ctx = self.ctx
        spec = ctx.scenario.spec
        fault_start = ctx.fault_start()
        window_end = fault_start + spec.timeouts.recovery
        if ctx.metrics is None or (spec.measure.rto is None and spec.measure.rpo is None):
            return None
        verifier = ctx.metrics.verification(
            spec, fault_start=fault_start, fault_requested=ctx.timeline.fault_requested
        )
        end = self.poll_recovery(verifier, window_end, polls=spec.measure.rto is not None)
        result = verifier.finish(end, failover_done=ctx.timeline.failover_done)
        ctx.mark(window_end=end)
        ctx.record.set(
            measurements=Measurements(rto=result.rto, rpo=result.rpo),
            measurement_inputs=result.stored,
        )
        self._observe_ground_truth(fault_start, end)
        self._rto_phases(fault_start, result)
        return result

    def poll_recovery(self, verifier: Verifier, window_end: datetime, *, polls: bool) -> datetime:
        """Poll until the SLI has recovered and held (or `window_end`), then wait one more
        scrape so the last samples are in; the end of the measured window."""
        ctx = self.ctx
        assert ctx.metrics is not None
        step = ctx.metrics.step_seconds()
        poll = max(2.0, 2 * step)
        while polls:
            now = ctx.clock.now()
            progress = verifier.poll(now)
            ctx.emit(ev.SliObserved, value=progress.sli_value, up=progress.done)
            if progress.done or now >= window_end:
                break
            ctx.wait(poll)
        ctx.wait(step)
        return canonical(ctx.clock.now())

    def measure_spans(self) -> None:
        """RTO/RPO between recorded instants (`measure.spans`), and the reported timings."""
        ctx = self.ctx
        m = ctx.scenario.spec.measure
        times = self._instants()
        objectives = ctx.scenario.spec.objectives

        def known(instant: model.Instant) -> spans.Known | str:
            if isinstance(instant, model.Window):
                first = spans.instant(instant.earliest, times)
                last = spans.instant(instant.latest, times)
                if isinstance(first, str) or isinstance(last, str):
                    return "; ".join(x for x in (first, last) if isinstance(x, str))
                return spans.window(first, last)
            return spans.instant(instant, times)

        measured = ctx.measurements
        for kind in ("rto", "rpo"):
            span = getattr(m.spans, kind)
            if span is None:
                continue
            objective = getattr(objectives, kind)
            result = spans.measure(kind.upper(), known(span.from_), known(span.to))
            judged = result.judged(objective.total_seconds() if objective else None)
            measured = (
                replace(measured, rto=judged) if kind == "rto" else replace(measured, rpo=judged)
            )
        timings = tuple(spans.measure(t.name, known(t.from_), known(t.to)) for t in m.timings)
        ctx.record.set(measurements=measured, timings=timings)

    def _instants(self) -> dict[str, datetime | str]:
        """What a span can start or end at: the run's own moments (the timeline's, and each
        step's with an id: `steps.<id>.started`, `.finished` once it succeeded) as datetimes;
        the captured values (`captured.<name>`) as the text the steps captured."""
        run = self.ctx.record.run
        out: dict[str, datetime | str] = dict(run.timeline.moments())
        for step in run.steps:
            if step.id:
                out[f"steps.{step.id}.started"] = step.started_at
                if step.status is StepStatus.SUCCEEDED and step.finished_at is not None:
                    out[f"steps.{step.id}.finished"] = step.finished_at
        out.update({f"captured.{k}": v for k, v in run.captured.items()})
        return out

    def _rto_phases(self, fault_start: datetime, result: MeasureResult) -> None:
        """With a DNS failover (a `dns.wait` among the failover steps), the RTO's phase
        breakdown: detected (the SLI's last healthy and first failing samples), orchestrated,
        DNS converged, TTL bound, healthy (the RTO's bounds)."""
        run = self.ctx.record.run
        waits = [
            s.details
            for s in run.steps
            if s.phase == "failover" and s.action == "dns.wait" and s.details
        ]
        if not waits:
            return
        detected, healthy = None, None
        if (r := self.ctx.scenario.spec.measure.rto) is not None:
            seen = detection(result.sli, up_when=r.up_when, fault_start=timebase.ms(fault_start))
            if seen is not None:
                detected = (None if seen[0] is None else seen[0] / 1000, seen[1] / 1000)
        if result.rto is not None and result.rto.bounds is not None:
            base, b = result.rto.verdict_start / 1000, result.rto.bounds
            healthy = (base + b.lower, None if b.upper is None else base + b.upper)
        done = run.timeline.failover_done
        phases = rto_phases(
            fault_start=fault_start.timestamp(),
            detected=detected,
            failover_done=None if done is None else done.timestamp(),
            dns_wait=waits[-1],
            healthy=healthy,
            observed=None if run.observed is None else run.observed.ground_truth(),
        )
        self.ctx.record.set(rto_phases=phases)

    def _observe_ground_truth(self, fault_start: datetime, until: datetime) -> None:
        ctx = self.ctx
        rto = ctx.scenario.spec.measure.rto
        hold = rto.hold.total_seconds() if rto else 0.0
        backend = ctx.targets[ctx.start_cluster()]
        try:
            seen = backend.observed(fault_start=fault_start, hold_seconds=hold, until=until)
        except DrillError as e:
            seen = {"error": str(e)}
        if seen is not None:
            ctx.record.set(observed=Observed.from_json(seen))
