"""Fetching what the measurements need from Prometheus: the only I/O in `runner.measure`.

One range query per expression per phase, at one step. `measure` keeps every answer it
fetched in the returned `Measurements`, and `remeasure` recomputes RTO and RPO from a
stored copy of them, without Prometheus (for example after changing an objective).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runner.errors import ConfigurationError
from runner.measure import checks, rpo, rto
from runner.measure.evidence import Fetched, Measurements
from runner.prom import PrometheusClient, Series
from runner.scenario import model

log = logging.getLogger(__name__)

DEFAULT_STEP_S = 15.0
"""The step when none is configured and Prometheus does not show its scrape interval."""


def resolve_step(prom: PrometheusClient, configured: float | None) -> float:
    """The configured step, else the scrape interval, else 15 s; never above the scrape interval."""
    scrape = prom.scrape_interval()
    if configured is None:
        return scrape if scrape is not None else DEFAULT_STEP_S
    if scrape is not None and configured > scrape:
        log.warning(
            "The configured step %gs is coarser than the scrape interval %gs; using %gs",
            configured,
            scrape,
            scrape,
        )
        return scrape
    return configured


def steady_state(
    prom: PrometheusClient,
    checks_: Sequence[model.SteadyStateCheck],
    *,
    end: datetime,
    step_s: float,
) -> list[checks.CheckResult]:
    """Each check over its own window ending at `end` (one range query each)."""
    results = []
    for check in checks_:
        series = prom.query_range(check.query, end - check.window, end, step_s)
        results.append(checks.evaluate_check(check, series, end=end, step_s=step_s))
    return results


def guardrails(
    prom: PrometheusClient,
    guardrails_: Sequence[model.Guardrail],
    *,
    start: datetime,
    end: datetime,
    step_s: float,
) -> list[checks.GuardrailResult]:
    """Each guardrail over [start, end] (one range query each)."""
    results = []
    for guardrail in guardrails_:
        series = prom.query_range(guardrail.query, start, end, step_s)
        results.append(
            checks.evaluate_guardrail(guardrail, series, start=start, end=end, step_s=step_s)
        )
    return results


@dataclass(frozen=True, kw_only=True)
class _Query:
    role: str
    query: str
    start: datetime
    end: datetime


def _plan(
    spec: model.ScenarioSpec,
    *,
    fault_start: datetime,
    failover_done: datetime | None,
    window_end: datetime,
) -> list[_Query]:
    """The range queries RTO and RPO need, each over the range its definition reads."""
    plan = []
    if (r := spec.measure.rto) is not None:
        plan.append(_Query(role="rto.sli", query=r.sli, start=fault_start, end=window_end))
    rpo_ = spec.measure.rpo
    if rpo_ is not None and rpo_.lag is not None:
        since = fault_start - rpo_.lag.lookback
        plan.append(_Query(role="rpo.lag", query=rpo_.lag.query, start=since, end=fault_start))
    if rpo_ is not None and (c := rpo_.canary) is not None:
        before = fault_start - timedelta(seconds=rpo.CANARY_LOOKBACK_S)
        after = failover_done or fault_start
        for role, query, start in (
            ("acknowledged", c.acknowledged, before),
            ("present", c.present, after),
            ("acknowledgedTime", c.acknowledged_time, before),
            ("presentTime", c.present_time, after),
        ):
            if query is not None:
                plan.append(
                    _Query(role=f"rpo.canary.{role}", query=query, start=start, end=window_end)
                )
    return plan


def measure(
    prom: PrometheusClient,
    spec: model.ScenarioSpec,
    *,
    fault_start: datetime,
    failover_done: datetime | None,
    window_end: datetime,
    step_s: float,
    scrape_interval_s: float | None = None,
) -> Measurements:
    """Fetch the series RTO and RPO need, compute them and judge them against the objectives."""
    fetched = tuple(
        Fetched(
            role=q.role,
            query=q.query,
            start=q.start,
            end=q.end,
            series=tuple(prom.query_range(q.query, q.start, q.end, step_s)),
        )
        for q in _plan(
            spec, fault_start=fault_start, failover_done=failover_done, window_end=window_end
        )
    )
    return _compute(
        spec,
        fetched,
        fault_start=fault_start,
        failover_done=failover_done,
        window_end=window_end,
        step_s=step_s,
        scrape_interval_s=scrape_interval_s,
    )


def remeasure(stored: Mapping[str, Any], spec: model.ScenarioSpec) -> Measurements:
    """Recompute from a stored `Measurements.to_json()`, with the spec's current rules."""
    old = Measurements.from_json(dict(stored))
    for q in _plan(
        spec,
        fault_start=old.fault_start,
        failover_done=old.failover_done,
        window_end=old.window_end,
    ):
        kept = old.series(q.role)
        if kept is None or kept.query != q.query:
            raise ConfigurationError(
                f"the stored run has no data for {q.role} ({q.query!r});"
                " it cannot be re-measured without Prometheus"
            )
    return _compute(
        spec,
        old.fetched,
        fault_start=old.fault_start,
        failover_done=old.failover_done,
        window_end=old.window_end,
        step_s=old.step_seconds,
        scrape_interval_s=old.scrape_interval_seconds,
    )


def _compute(
    spec: model.ScenarioSpec,
    fetched: tuple[Fetched, ...],
    *,
    fault_start: datetime,
    failover_done: datetime | None,
    window_end: datetime,
    step_s: float,
    scrape_interval_s: float | None,
) -> Measurements:
    by_role = {f.role: list(f.series) for f in fetched}

    def got(role: str) -> list[Series]:
        return by_role.get(role, [])

    objectives = spec.objectives
    rto_result = None
    if (r := spec.measure.rto) is not None:
        rto_result = rto.compute_rto(
            got("rto.sli"),
            up_when=r.up_when,
            hold_s=r.hold.total_seconds(),
            fault_start=fault_start,
            failover_done=failover_done,
            window_end=window_end,
            step_s=step_s,
            scrape_interval_s=scrape_interval_s,
        ).judged(_seconds(objectives.rto))
    rpo_result = None
    if (p := spec.measure.rpo) is not None:
        lag = None
        if p.lag is not None:
            lag = rpo.measure_lag(
                got("rpo.lag"),
                fault_start=fault_start,
                lookback_s=p.lag.lookback.total_seconds(),
                step_s=step_s,
            )
        canary = None
        if (c := p.canary) is not None:
            canary = rpo.measure_canary(
                acknowledged=got("rpo.canary.acknowledged"),
                present=got("rpo.canary.present"),
                acknowledged_time=got("rpo.canary.acknowledgedTime")
                if c.acknowledged_time
                else None,
                present_time=got("rpo.canary.presentTime") if c.present_time else None,
                fault_start=fault_start,
                failover_done=failover_done,
                window_end=window_end,
            )
        rpo_result = rpo.combine(lag=lag, canary=canary, step_s=step_s).judged(
            _seconds(objectives.rpo), objectives.max_lost_writes
        )
    return Measurements(
        rto=rto_result,
        rpo=rpo_result,
        fault_start=fault_start,
        failover_done=failover_done,
        window_end=window_end,
        step_seconds=step_s,
        scrape_interval_seconds=scrape_interval_s,
        fetched=fetched,
    )


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()
