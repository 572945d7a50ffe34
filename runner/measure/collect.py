"""Reading what the measurements need from Prometheus, and computing them: the only I/O
in `runner.measure` besides `reader`.

`Verification` is RTO and RPO for one drill: the engine polls it while it waits for
recovery (each poll reads only what is new, see `reader`), then `finish` reads the RPO
inputs and computes everything with the pure functions in `rto` and `rpo`. `measure` is
the same thing in one go (what `drillctl measure` runs). `remeasure` recomputes from the
stored inputs without Prometheus and gives exactly what the live run gave.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runner.errors import ConfigurationError
from runner.measure import checks, rpo, rto, timebase
from runner.measure.evidence import Fetched, Inputs, Measurements
from runner.measure.history import History
from runner.measure.reader import Reader
from runner.measure.results import RtoResult
from runner.measure.timebase import Ms
from runner.prom import PrometheusClient
from runner.scenario import model
from runner.scenario.promql import ExpressionError, shape

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


SLI_CONTEXT: Ms = 300_000
"""The SLI is read from this long before the fault start: the state at the fault, when an
outage already under way began, and the SLI's own sample interval."""
POLL_SPAN: Ms = 600_000
"""A poll measures the last this-much of the SLI (at least twice `hold`) to decide whether
recovery has held; `finish` measures everything."""
PRESENT_SPAN: Ms = 300_000
"""The new primary's canary series are read over at most this much before the window end."""


@dataclass(frozen=True, kw_only=True)
class _Read:
    role: str
    query: str
    start: Ms
    end: Ms


def _rpo_reads(
    spec: model.ScenarioSpec, *, fault_start: Ms, failover_done: Ms | None, window_end: Ms
) -> list[_Read]:
    """The RPO expressions and the range each is read over."""
    reads: list[_Read] = []
    p = spec.measure.rpo
    if p is None:
        return reads
    if p.lag is not None:
        lookback = _duration(p.lag.lookback)
        start = fault_start - lookback - rpo.LAG_CONTEXT
        reads.append(_Read(role="rpo.lag", query=p.lag.query, start=start, end=fault_start))
    c = p.canary
    if c is not None:
        ack_until = failover_done if failover_done is not None else window_end
        after = failover_done if failover_done is not None else fault_start
        since = max(after, window_end - PRESENT_SPAN)
        ack_from = fault_start - rpo.CANARY_LOOKBACK
        for role, query, lo, hi in (
            ("acknowledged", c.acknowledged, ack_from, ack_until),
            ("acknowledgedTime", c.acknowledged_time, ack_from, ack_until),
            ("present", c.present, since, window_end),
            ("missing", c.missing, since, window_end),
            ("presentTime", c.present_time, since, window_end),
        ):
            if query is not None:
                reads.append(
                    _Read(role=f"rpo.canary.{role}", query=query, start=lo, end=max(lo, hi))
                )
    return reads


def _duration(value: timedelta) -> Ms:
    return value // timedelta(milliseconds=1)


class Verification:
    """RTO and RPO of one drill, read as the drill goes (see the module doc)."""

    def __init__(
        self,
        prom: PrometheusClient,
        spec: model.ScenarioSpec,
        *,
        fault_start: datetime,
        fault_requested: datetime | None = None,
        step_s: float,
    ) -> None:
        self.prom = prom
        self.spec = spec
        self.fault_start = timebase.ms(fault_start)
        self.fault_requested = None if fault_requested is None else timebase.ms(fault_requested)
        self.step: Ms = max(1, round(step_s * 1000))
        self._sli: Reader | None = None
        try:
            if (r := spec.measure.rto) is not None:
                start = self.fault_start - max(SLI_CONTEXT, 2 * _duration(r.hold))
                self._sli = Reader(prom, r.sli, start=start, step=self.step)
                self._poll_span = max(POLL_SPAN, 2 * _duration(r.hold))
        except ExpressionError as e:
            raise ConfigurationError(f"measure.rto.sli: {e}") from None

    def poll(self, now: datetime) -> RtoResult | None:
        """Read the SLI up to `now` (only what is new) and measure the RTO so far."""
        if self._sli is None:
            return None
        end = timebase.ms(now)
        self._sli.advance(end)
        # only a recent span: enough to see recovery hold (the engine polls every few
        # seconds), and a poll costs the same after six hours as after six seconds. The
        # verdict itself comes from `finish`, over everything.
        since = max(self._sli.start, end - self._poll_span)
        sli = self._sli.histories(end, since=since)
        starts = [h.points[0][0] for h in sli if h.points]
        f = self.fault_start if since <= self._sli.start else max([self.fault_start, *starts])
        return _rto(
            self.spec,
            sli,
            fault_start=f,
            window_end=end,
            fault_requested=self.fault_requested,
            failover_done=None,
        )

    def sli_value(self) -> float | None:
        """The latest SLI value read (for the live view), or None."""
        if self._sli is None:
            return None
        return self._sli.latest()

    def finish(self, end: datetime, *, failover_done: datetime | None) -> Measurements:
        """The final measurement over [fault start, end]: the SLI's last samples, the RPO."""
        w = timebase.ms(end)
        done = None if failover_done is None else timebase.ms(failover_done)
        fetched: list[Fetched] = []
        if self._sli is not None:
            self._sli.advance(w)
            fetched.append(
                Fetched(
                    role="rto.sli",
                    query=self._sli.expr,
                    start=self._sli.start,
                    end=w,
                    mode=self._sli.mode,
                    histories=tuple(self._sli.histories(w)),
                )
            )
        for read in _rpo_reads(
            self.spec, fault_start=self.fault_start, failover_done=done, window_end=w
        ):
            try:
                reader = Reader(self.prom, read.query, start=read.start, step=self.step)
            except ExpressionError as e:
                raise ConfigurationError(f"measure.{read.role}: {e}") from None
            reader.advance(read.end)
            fetched.append(
                Fetched(
                    role=read.role,
                    query=read.query,
                    start=read.start,
                    end=read.end,
                    mode=reader.mode,
                    histories=tuple(reader.histories(read.end)),
                )
            )
        inputs = Inputs(
            fault_start=self.fault_start,
            fault_requested=self.fault_requested,
            failover_done=done,
            window_end=w,
            step=self.step,
            fetched=tuple(fetched),
        )
        return compute(self.spec, inputs)


def read(
    prom: PrometheusClient, query: str, *, start: datetime, end: datetime, step_s: float
) -> list[History]:
    """One expression's histories over [start, end] (raw samples for a plain selector),
    e.g. the split-brain counter."""
    w = timebase.ms(end)
    try:
        reader = Reader(prom, query, start=timebase.ms(start), step=max(1, round(step_s * 1000)))
    except ExpressionError as e:
        raise ConfigurationError(f"{query!r}: {e}") from None
    reader.advance(w)
    return list(reader.histories(w))


def measure(
    prom: PrometheusClient,
    spec: model.ScenarioSpec,
    *,
    fault_start: datetime,
    failover_done: datetime | None,
    window_end: datetime,
    step_s: float,
    fault_requested: datetime | None = None,
) -> Measurements:
    """RTO and RPO over [fault start, window end] in one go: the engine's code, not polled."""
    verification = Verification(
        prom, spec, fault_start=fault_start, fault_requested=fault_requested, step_s=step_s
    )
    return verification.finish(window_end, failover_done=failover_done)


def remeasure(stored: Mapping[str, Any], spec: model.ScenarioSpec) -> Measurements:
    """Recompute from stored inputs (a run's `measurementInputs`, or a whole
    `Measurements.to_json()`), with the spec's current rules, without Prometheus."""
    data = dict(stored)
    try:
        inputs = Inputs.from_json(dict(data["inputs"]) if "inputs" in data else data)
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigurationError(f"the stored measurement inputs cannot be read: {e}") from None
    needed = _rpo_reads(
        spec,
        fault_start=inputs.fault_start,
        failover_done=inputs.failover_done,
        window_end=inputs.window_end,
    )
    roles = [(r.role, r.query) for r in needed]
    if (r := spec.measure.rto) is not None:
        roles.append(("rto.sli", r.sli))
    for role, query in roles:
        kept = inputs.get(role)
        if kept is None or kept.query != query:
            raise ConfigurationError(
                f"the stored run has no data for {role} ({query!r});"
                " it cannot be re-measured without Prometheus"
            )
    return compute(spec, inputs)


def compute(spec: model.ScenarioSpec, inputs: Inputs) -> Measurements:
    """RTO and RPO from what was read, judged against the spec's objectives (pure)."""
    objectives = spec.objectives
    rto_result = _rto(
        spec,
        inputs.histories("rto.sli"),
        fault_start=inputs.fault_start,
        window_end=inputs.window_end,
        fault_requested=inputs.fault_requested,
        failover_done=inputs.failover_done,
    )
    rpo_result = None
    if (p := spec.measure.rpo) is not None:
        lag = None
        if p.lag is not None:
            lag = rpo.compute_lag(
                inputs.histories("rpo.lag"),
                fault_start=inputs.fault_start,
                lookback=_duration(p.lag.lookback),
            )
        canary = None
        if (c := p.canary) is not None:

            def got(role: str, query: str | None) -> list[Any] | None:
                return None if query is None else inputs.histories(f"rpo.canary.{role}")

            canary = rpo.compute_canary(
                acknowledged=inputs.histories("rpo.canary.acknowledged"),
                present=got("present", c.present),
                missing=got("missing", c.missing),
                acknowledged_time=got("acknowledgedTime", c.acknowledged_time),
                present_time=got("presentTime", c.present_time),
                fault_start=inputs.fault_start,
                failover_done=inputs.failover_done,
                window_end=inputs.window_end,
            )
        rpo_result = rpo.combine(lag=lag, canary=canary).judged(
            _seconds(objectives.rpo), objectives.max_lost_writes
        )
    return Measurements(rto=rto_result, rpo=rpo_result, inputs=inputs)


def _rto(
    spec: model.ScenarioSpec,
    sli: list[Any],
    *,
    fault_start: Ms,
    window_end: Ms,
    fault_requested: Ms | None,
    failover_done: Ms | None,
) -> RtoResult | None:
    r = spec.measure.rto
    if r is None:
        return None
    try:
        widening = shape(r.sli).range_ms
    except ExpressionError as e:
        raise ConfigurationError(f"measure.rto.sli: {e}") from None
    return rto.compute_rto(
        sli,
        up_when=r.up_when,
        hold=_duration(r.hold),
        fault_start=fault_start,
        window_end=window_end,
        fault_requested=fault_requested,
        failover_done=failover_done,
        widening=widening + _duration(r.sli_window),
    ).judged(_seconds(spec.objectives.rto))


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()
