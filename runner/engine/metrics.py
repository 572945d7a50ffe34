"""The engine's view of measurement: one seam over Prometheus and the pure measure functions.

`Metrics` is what the orchestrator calls; `PrometheusMetrics` implements it with
`runner.prom` and `runner.measure`. RTO and RPO stay typed (`runner.measure.results`);
the run record gets their `to_json()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from runner.measure.checks import CheckResult
from runner.measure.history import History
from runner.measure.results import RpoResult, RtoOutcome, RtoResult
from runner.scenario import model


@dataclass(frozen=True, kw_only=True)
class GateResult:
    passed: bool
    checks: tuple[CheckResult, ...]


@dataclass(frozen=True, kw_only=True)
class Breach:
    guardrail: str
    value: float
    at: datetime


@dataclass(frozen=True, kw_only=True)
class Progress:
    """One poll of the verification."""

    rto: RtoResult | None
    """The RTO measured so far (None when the scenario measures no RTO)."""
    sli_value: float | None
    """The latest SLI sample, for the live view."""

    @property
    def done(self) -> bool:
        """Nothing more to wait for: recovered and held, or already relapsed."""
        return self.rto is not None and self.rto.outcome in (
            RtoOutcome.RECOVERED,
            RtoOutcome.RELAPSED,
        )


@dataclass(frozen=True, kw_only=True)
class MeasureResult:
    rto: RtoResult | None
    rpo: RpoResult | None
    stored: dict[str, Any]
    """The inputs (instants, step, every series read), so the run can be re-measured."""
    sli: tuple[History, ...] = ()
    """The SLI as read (the RTO's phase breakdown finds when it first failed)."""


class Verifier(Protocol):
    """RTO and RPO of one drill, read as it goes (each poll reads only what is new)."""

    def poll(self, now: datetime) -> Progress: ...

    def finish(self, end: datetime, *, failover_done: datetime | None) -> MeasureResult: ...


class Metrics(Protocol):
    def step_seconds(self) -> float: ...

    def steady_state(
        self, checks: list[model.SteadyStateCheck], *, end: datetime
    ) -> GateResult: ...

    def guardrails(
        self, guardrails: list[model.Guardrail], *, start: datetime, end: datetime
    ) -> list[Breach]: ...

    def verification(
        self,
        spec: model.ScenarioSpec,
        *,
        fault_start: datetime,
        fault_requested: datetime | None,
    ) -> Verifier: ...

    def counter(self, query: str, *, start: datetime, end: datetime) -> list[History]:
        """The histories of one expression over [start, end] (the split-brain counter)."""
        ...
