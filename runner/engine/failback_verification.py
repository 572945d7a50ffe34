"""Failback as a second measured recovery (`runner.measure.failback`): its RTO and RPO with
the failover's rules from the start of failback to the end of the post-check, the writes
the old primary acknowledged while split from the new one, how it rejoined, and the
target's ground truth of all that. A failback objective that was not measured is recorded
as inconclusive, never met.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from runner.engine.context import DrillContext
from runner.engine.verification import Verification
from runner.errors import DrillError
from runner.journal.entries import LegacyMeasurement, StepStatus
from runner.journal.observed import FailbackTruth, Observed
from runner.measure import continuity, failback, timebase
from runner.measure.timebase import canonical
from runner.scenario import model


class FailbackVerification:
    """The failback's measurements and ground truth, for one run."""

    def __init__(self, ctx: DrillContext, verification: Verification) -> None:
        self.ctx, self.verification = ctx, verification

    def verify(self) -> None:
        """Measure the failback once it completed; record why not otherwise."""
        ctx = self.ctx
        spec = ctx.scenario.spec
        start, done = ctx.timeline.failback_started, ctx.timeline.failback_done
        if start is None or done is None:
            self.not_measured("failback did not complete")
            return
        results: dict[str, Any] = {}
        end = self._recovery(start, done, results)
        ctx.mark(failback_window_end=end)
        split = spec.measure.failback.split_brain if spec.measure.failback else None
        if split is not None:
            results["split_brain"] = self._split_brain(split, done)
        if spec.failback.expect.rejoin is not None or self._rejoin_outputs():
            facts, problem = failback.parse_rejoin(self._rejoin_outputs())
            results["rejoin"] = failback.judge_rejoin(facts, problem, spec.failback.expect.rejoin)
        if results:
            ctx.measured(**results)
        self._observe(start, end)

    def not_measured(self, why: str) -> None:
        """Failback objectives that were not measured are inconclusive, never met."""
        spec = self.ctx.scenario.spec
        o = spec.objectives.failback
        wanted = {
            "failback_rto": o is not None and o.rto is not None,
            "failback_rpo": o is not None and (o.rpo is not None or o.max_lost_writes is not None),
            "split_brain": failback.split_brain_limit(spec) is not None,
            "rejoin": spec.failback.expect.rejoin not in (None, model.RejoinExpectation.ANY),
        }
        results = {
            k: LegacyMeasurement.from_json(
                {"status": "inconclusive", "met": None, "explanation": f"not measured: {why}"}
            )
            for k, on in wanted.items()
            if on
        }
        if results:
            self.ctx.measured(**results)

    def _recovery(self, start: datetime, done: datetime, results: dict[str, Any]) -> datetime:
        """The failback's RTO and RPO into `results`; the end of its measured window."""
        ctx = self.ctx
        spec = ctx.scenario.spec
        derived = failback.failback_spec(spec)
        if derived is None or ctx.metrics is None:
            return canonical(ctx.clock.now())
        verifier = ctx.metrics.verification(derived, fault_start=start, fault_requested=None)
        end = self.verification.poll_recovery(
            verifier, start + spec.timeouts.recovery, polls=derived.measure.rto is not None
        )
        result = verifier.finish(end, failover_done=done)
        if result.rto is not None:
            results["failback_rto"] = failback.as_failback_rto(result.rto)
        if result.rpo is not None:
            results["failback_rpo"] = result.rpo
        inputs = ctx.record.run.measurement_inputs or {}
        ctx.record.set(measurement_inputs={**inputs, "failback": result.stored})
        return end

    def _rejoin_outputs(self) -> list[tuple[str, str]]:
        return [
            (s.name, s.output)
            for s in self.ctx.record.run.steps
            if s.phase == "failback" and s.status is StepStatus.SUCCEEDED
        ]

    def _spans(self, until: datetime, from_step: str | None) -> list[failback.Span]:
        run = self.ctx.record.run
        return failback.split_brain_spans(
            run.phases, run.steps, run.timeline.failover_started, until=until, from_step=from_step
        )

    def _split_brain(
        self, method: model.SplitBrainMethod, done: datetime
    ) -> failback.SplitBrainResult:
        """The old primary's acknowledged writes from the start of failover until it was
        rejoined (the failback step that reported rejoin facts, else the first one)."""
        ctx = self.ctx
        limit = failback.split_brain_limit(ctx.scenario.spec)
        spans = self._spans(done, method.from_step)
        if ctx.metrics is None or not spans:
            return failback.compute_split_brain([], spans=spans, limit=limit)
        step = ctx.metrics.step_seconds()
        start = timebase.at(spans[0].start) - timedelta(seconds=10 * step)
        end = timebase.at(spans[-1].end) + timedelta(seconds=2 * step)
        series = ctx.metrics.counter(method.acknowledged, start=start, end=end)
        created = (
            None
            if method.created is None
            else ctx.metrics.counter(method.created, start=start, end=end)
        )
        return failback.compute_split_brain(series, spans=spans, limit=limit, created=created)

    def _observe(self, start: datetime, until: datetime) -> None:
        ctx = self.ctx
        hold = 0.0
        derived = failback.failback_spec(ctx.scenario.spec)
        if derived is not None and derived.measure.rto is not None:
            hold = derived.measure.rto.hold.total_seconds()
        backend = ctx.targets[ctx.start_cluster()]
        try:
            seen = backend.observed_failback(
                timeline=ctx.timeline.moments(), hold_seconds=hold, until=until
            )
        except DrillError as e:
            seen = {"error": str(e)}
        if seen is None:
            return
        truth = dict(seen)
        ledger = truth.pop("ledger", None)
        if isinstance(ledger, Mapping):
            truth["continuity"] = self._continuity(ledger, str(truth.get("site") or ""))
        observed = ctx.record.run.observed or Observed(keys=())
        ctx.record.set(observed=observed.with_failback(FailbackTruth.from_json(truth)))

    def _continuity(self, ledger: Mapping[str, Any], old_primary: str) -> dict[str, Any]:
        """Every write the target's ledger says was acknowledged, checked against the rows
        of its final primary, per phase (`runner.measure.continuity`)."""
        timeline = self.ctx.timeline
        keys = {key for _, key in continuity.DRILL_PHASES if key}
        instants = {k: t.timestamp() for k, t in timeline.moments().items() if k in keys}
        since = float(ledger.get("since") or instants.get("faultStart", 0.0))
        fb = self.ctx.scenario.spec.measure.failback
        spans = self._spans(
            timeline.failback_done or self.ctx.clock.now(),
            None if fb is None or fb.split_brain is None else fb.split_brain.from_step,
        )
        split = (
            {old_primary: (spans[0].start / 1000, spans[-1].end / 1000)}
            if spans and old_primary
            else {}
        )
        result = continuity.account(
            (continuity.Write(site=a, seq=int(b), ts=float(c)) for a, b, c in ledger["acks"]),
            (continuity.Write(site=a, seq=int(b), ts=float(c)) for a, b, c in ledger["present"]),
            phases=continuity.drill_phases(instants, since=since),
            split_brain=split,
        )
        return result.to_json()
