"""`Metrics` over a real Prometheus: the engine's measurement seam, implemented with
`runner.prom` (I/O) and `runner.measure` (the definitions)."""

from __future__ import annotations

from datetime import datetime

from runner.engine.metrics import Breach, GateResult, MeasureResult
from runner.measure import collect
from runner.prom import PrometheusClient
from runner.scenario import model


class PrometheusMetrics:
    """Answers the engine's questions with range queries at one step."""

    def __init__(self, prom: PrometheusClient, *, step: float | None = None) -> None:
        self.prom = prom
        self.scrape_interval = prom.scrape_interval()
        self.step = collect.resolve_step(prom, step)

    def step_seconds(self) -> float:
        return self.step

    def steady_state(self, checks: list[model.SteadyStateCheck], *, end: datetime) -> GateResult:
        results = collect.steady_state(self.prom, checks, end=end, step_s=self.step)
        return GateResult(
            passed=all(r.passed for r in results), checks=[r.to_json() for r in results]
        )

    def guardrails(
        self, guardrails: list[model.Guardrail], *, start: datetime, end: datetime
    ) -> list[Breach]:
        results = collect.guardrails(self.prom, guardrails, start=start, end=end, step_s=self.step)
        return [
            Breach(guardrail=r.name, value=r.value, at=r.at or end)
            for r in results
            if r.breached and r.value is not None
        ]

    def measure(
        self,
        spec: model.ScenarioSpec,
        *,
        fault_start: datetime,
        failover_done: datetime | None,
        window_end: datetime,
    ) -> MeasureResult:
        m = collect.measure(
            self.prom,
            spec,
            fault_start=fault_start,
            failover_done=failover_done,
            window_end=window_end,
            step_s=self.step,
            scrape_interval_s=self.scrape_interval,
        )
        sli = m.series("rto.sli")
        last = None
        if sli is not None and len(sli.series) == 1 and sli.series[0].samples:
            last = sli.series[0].samples[-1][1]
        stored = m.to_json()
        return MeasureResult(
            rto=stored["rto"],
            rpo=stored["rpo"],
            recovered=m.rto is not None and m.rto.seconds is not None,
            sli_value=last,
            stored=stored["inputs"],
        )
