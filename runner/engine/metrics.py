"""The engine's view of measurement: one seam over Prometheus and the pure measure functions.

`Metrics` is what the orchestrator calls; `PrometheusMetrics` implements it with
`runner.prom` and `runner.measure`. Results are JSON-ready dicts for the run record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from runner.scenario import model


@dataclass(frozen=True, kw_only=True)
class GateResult:
    passed: bool
    checks: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Breach:
    guardrail: str
    value: float
    at: datetime


@dataclass(frozen=True, kw_only=True)
class MeasureResult:
    rto: dict[str, Any] | None
    rpo: dict[str, Any] | None
    recovered: bool
    """The SLI has held for the hold period (RTO known); the verify phase may stop."""
    sli_value: float | None
    """The latest SLI sample, for the live view."""
    stored: dict[str, Any]
    """Raw series and inputs, so the run can be re-measured offline."""


class Metrics(Protocol):
    def step_seconds(self) -> float: ...

    def steady_state(
        self, checks: list[model.SteadyStateCheck], *, end: datetime
    ) -> GateResult: ...

    def guardrails(
        self, guardrails: list[model.Guardrail], *, start: datetime, end: datetime
    ) -> list[Breach]: ...

    def measure(
        self,
        spec: model.ScenarioSpec,
        *,
        fault_start: datetime,
        failover_done: datetime | None,
        window_end: datetime,
    ) -> MeasureResult: ...
