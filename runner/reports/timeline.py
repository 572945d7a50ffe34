"""What a run's timeline chart shows, read from the run's journal: the SLI and replication-lag
series that were fetched for the measurement, the phases as time spans, and the moments that matter
(fault injected, first failure seen, failover done, recovered, fault removed, failback done).

Times are unix seconds (floats) so the chart code only does arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

from runner.journal import series as recorded
from runner.journal.run import Run

SLI_ROLES = ("rto.sli",)
LAG_ROLES = ("rpo.lag",)


@overload
def epoch(value: datetime) -> float: ...
@overload
def epoch(value: None) -> None: ...
def epoch(value: datetime | None) -> float | None:
    """Unix seconds of a time (None for None)."""
    return None if value is None else value.timestamp()


@dataclass(frozen=True)
class Line:
    """One series: a label (its query and labels) and its finite samples in time order."""

    label: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Span:
    name: str
    status: str
    start: float
    end: float


@dataclass(frozen=True)
class Marker:
    key: str
    """fault-injected, first-failure, failover-done, recovered, fault-removed, failback-done;
    with a DNS failover's phase breakdown, phase-<key> (detected, orchestrated,
    dns-converged, ttl-bound, healthy) instead of first-failure, failover-done, recovered."""
    label: str
    at: float
    span: tuple[float, float] | None = None
    """The interval the moment is known to lie in (drawn as a band), when it is uncertain."""


@dataclass(frozen=True)
class Timeline:
    origin: float
    """x = 0 on the chart: the fault start, else the run start."""
    origin_label: str
    start: float
    end: float
    step: float
    sli: list[Line] = field(default_factory=list)
    lag: list[Line] = field(default_factory=list)
    phases: list[Span] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)

    @property
    def has_series(self) -> bool:
        return any(line.points for line in [*self.sli, *self.lag])


def _label(query: str, labels: Mapping[str, Any], several: bool) -> str:
    if not several:
        return query
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{query} {{{inner}}}" if inner else query


def series(run: Run, role: str, *, failback: bool = False) -> list[Line]:
    """The series fetched for `role` as the record holds them (`journal.series`);
    `failback`: those read for the failback measurement."""
    fetched = recorded.read(run.measurement_inputs, role, failback=failback)
    several = len(fetched.series) > 1
    return [Line(_label(fetched.query, s.labels, several), s.samples) for s in fetched.series]


def phases(run: Run, now: float) -> list[Span]:
    return [
        Span(p.name.value, p.status.value, epoch(p.started_at), epoch(p.finished_at) or now)
        for p in run.phases
    ]


def markers(run: Run) -> list[Marker]:
    """The moments that matter, in time order; the ones a run never reached are left out."""
    tl = run.timeline
    rto = run.measurements.rto
    out: list[Marker] = []
    for f in run.faults:
        if f.injected_at is not None:
            out.append(Marker("fault-injected", f"fault {f.fault or f.name}", epoch(f.injected_at)))
    start = None if tl.fault_start is None else epoch(tl.fault_start)
    if not any(m.key == "fault-injected" for m in out) and start:
        out.append(Marker("fault-injected", "fault injected", start))
    phased = phase_markers(run)
    out += phased
    detect = None if rto is None else _rounded(rto.time_to_detect_seconds)
    if start is not None and detect is not None and not phased:
        out.append(Marker("first-failure", f"first failure seen (+{detect:g}s)", start + detect))
    if tl.failover_done is not None and not phased:
        out.append(Marker("failover-done", "failover done", epoch(tl.failover_done)))
    seconds = None if rto is None else _rounded(rto.seconds)
    if start is not None and seconds is not None and not phased:
        out.append(Marker("recovered", f"recovered (RTO {seconds:g}s)", start + seconds))
    for f in run.faults:
        if f.recovered_at is not None:
            out.append(
                Marker("fault-removed", f"fault {f.fault or f.name} removed", epoch(f.recovered_at))
            )
    if tl.failback_started is not None:
        at = epoch(tl.failback_started)
        out.append(Marker("failback-started", "failback started", at))
        back = run.measurements.failback_rto
        seconds = None if back is None else _rounded(back.seconds)
        if seconds is not None:
            out.append(
                Marker("failback-recovered", f"failback recovered ({seconds:g}s)", at + seconds)
            )
    if tl.failback_done is not None:
        out.append(Marker("failback-done", "failback done", epoch(tl.failback_done)))
    return sorted(out, key=lambda m: m.at)


def phase_markers(run: Run) -> list[Marker]:
    """The RTO's phase breakdown (`rtoPhases`), each phase at its measured midpoint with its
    uncertainty as a band; phases without a measured interval are left out."""
    phases = run.rto_phases
    if phases is None:
        return []
    out = []
    for p in phases.phases:
        m = p.measured
        if m is None or m.upper < m.lower:
            continue
        seconds, plus = round(m.midpoint - phases.fault_start, 3), round(m.uncertainty, 3)
        when = f" +{seconds:g}s" + (f" ±{plus:g}s" if plus else "")
        out.append(
            Marker(
                f"phase-{p.key}",
                f"{p.label}{when}",
                m.midpoint,
                (m.lower, m.upper) if m.upper > m.lower else None,
            )
        )
    return out


def _through_failback(failover: list[Line], failback: list[Line]) -> list[Line]:
    """The SLI through failback and the post-check: each failover line continued with the
    failback samples of the same label (the failback measurement reads the same SLI)."""
    later = {line.label: line for line in failback}
    out = []
    for line in failover:
        extra = later.pop(line.label, None)
        if extra is None:
            out.append(line)
            continue
        merged = dict(line.points)
        merged.update(extra.points)
        out.append(Line(line.label, tuple(sorted(merged.items()))))
    return out + list(later.values())


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def build(run: Run) -> Timeline:
    started = None if run.started_at is None else epoch(run.started_at)
    finished = None if run.finished_at is None else epoch(run.finished_at)
    sli = _through_failback(
        [line for role in SLI_ROLES for line in series(run, role)],
        [line for role in SLI_ROLES for line in series(run, role, failback=True)],
    )
    lag = [line for role in LAG_ROLES for line in series(run, role)]
    marks = markers(run)
    times = [t for line in [*sli, *lag] for t, _ in line.points] + [m.at for m in marks]
    times += [t for m in marks if m.span for t in m.span]
    times += [t for t in (started, finished) if t is not None]
    now = max(times) if times else 0.0
    spans = phases(run, now)
    times += [t for s in spans for t in (s.start, s.end)]
    start, end = (min(times), max(times)) if times else (0.0, 1.0)
    if end <= start:
        end = start + 1.0
    fault_start = run.timeline.fault_start
    origin, origin_label = (
        (epoch(fault_start), "seconds from fault injection")
        if fault_start is not None
        else (started or start, "seconds from the start of the run")
    )
    step = recorded.step_seconds(run.measurement_inputs) or run.step_seconds or 1.0
    return Timeline(
        origin=origin,
        origin_label=origin_label,
        start=start,
        end=end,
        step=step,
        sli=sli,
        lag=lag,
        phases=spans,
        markers=marks,
    )
