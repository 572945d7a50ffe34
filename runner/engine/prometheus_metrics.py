"""`Metrics` over a real Prometheus: the engine's measurement seam, implemented with
`runner.prom` (I/O) and `runner.measure` (the definitions)."""

from __future__ import annotations

from datetime import datetime

from runner.engine.metrics import Breach, GateResult, MeasureResult, Progress, Verifier
from runner.measure import collect
from runner.measure.history import History
from runner.prom import PrometheusClient
from runner.scenario import model


class PrometheusMetrics:
    """Answers the engine's questions with range queries at one step."""

    def __init__(self, prom: PrometheusClient, *, step: float | None = None) -> None:
        self.prom = prom
        self.step = collect.resolve_step(prom, step)

    def step_seconds(self) -> float:
        return self.step

    def steady_state(self, checks: list[model.SteadyStateCheck], *, end: datetime) -> GateResult:
        results = collect.steady_state(self.prom, checks, end=end, step_s=self.step)
        return GateResult(passed=all(r.passed for r in results), checks=tuple(results))

    def guardrails(
        self, guardrails: list[model.Guardrail], *, start: datetime, end: datetime
    ) -> list[Breach]:
        results = collect.guardrails(self.prom, guardrails, start=start, end=end, step_s=self.step)
        return [
            Breach(guardrail=r.name, value=r.value, at=r.at or end)
            for r in results
            if r.breached and r.value is not None
        ]

    def verification(
        self,
        spec: model.ScenarioSpec,
        *,
        fault_start: datetime,
        fault_requested: datetime | None,
    ) -> Verifier:
        return _Verification(
            collect.Verification(
                self.prom,
                spec,
                fault_start=fault_start,
                fault_requested=fault_requested,
                step_s=self.step,
            )
        )

    def counter(self, query: str, *, start: datetime, end: datetime) -> list[History]:
        return collect.read(self.prom, query, start=start, end=end, step_s=self.step)


class _Verification:
    """`Verifier` over `runner.measure.collect.Verification`."""

    def __init__(self, inner: collect.Verification) -> None:
        self.inner = inner

    def poll(self, now: datetime) -> Progress:
        rto = self.inner.poll(now)
        return Progress(rto=rto, sli_value=self.inner.sli_value())

    def finish(self, end: datetime, *, failover_done: datetime | None) -> MeasureResult:
        m = self.inner.finish(end, failover_done=failover_done)
        return MeasureResult(
            rto=m.rto,
            rpo=m.rpo,
            stored=m.inputs.to_json(),
            sli=tuple(m.inputs.histories("rto.sli")),
        )
