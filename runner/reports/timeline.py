"""What a run's timeline chart shows, read from run.json: the SLI and replication-lag series
that were fetched for the measurement, the phases as time spans, and the moments that matter
(fault injected, first failure seen, failover done, recovered, fault removed, failback done).

Times are unix seconds (floats) so the chart code only does arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SLI_ROLES = ("rto.sli",)
LAG_ROLES = ("rpo.lag",)


def epoch(value: Any) -> float | None:
    """Unix seconds from an ISO 8601 string (None when missing or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


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
    """fault-injected, first-failure, failover-done, recovered, fault-removed,
    failback-started, failback-recovered, failback-done."""
    label: str
    at: float


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


def _value(raw: Any) -> float | None:
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _label(query: str, labels: Mapping[str, Any], several: bool) -> str:
    if not several:
        return query
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{query} {{{inner}}}" if inner else query


def series(run: Mapping[str, Any], role: str, *, failback: bool = False) -> list[Line]:
    """The series fetched for `role` (`result`, or `series` as docs/run-record.md names it);
    `failback`: those read for the failback measurement."""
    inputs = run.get("measurementInputs") or {}
    if failback:
        inputs = inputs.get("failback") or {}
    fetched = ((inputs.get("series") or {}) if isinstance(inputs, Mapping) else {}).get(role) or {}
    items = fetched.get("result", fetched.get("series")) or []
    query = str(fetched.get("query") or role)
    lines = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        points = []
        for sample in item.get("samples") or []:
            if not isinstance(sample, list | tuple) or len(sample) != 2:
                continue
            t, v = _value(sample[0]), _value(sample[1])
            if t is not None and v is not None:
                points.append((t, v))
        points.sort()
        lines.append(Line(_label(query, item.get("labels") or {}, len(items) > 1), tuple(points)))
    return lines


def phases(run: Mapping[str, Any], now: float) -> list[Span]:
    spans = []
    for p in run.get("phases") or []:
        start = epoch(p.get("startedAt"))
        if start is None:
            continue
        end = epoch(p.get("finishedAt"))
        spans.append(Span(str(p.get("name")), str(p.get("status")), start, end or now))
    return spans


def markers(run: Mapping[str, Any]) -> list[Marker]:
    """The moments that matter, in time order; the ones a run never reached are left out."""
    tl = run.get("timeline") or {}
    rto = (run.get("measurements") or {}).get("rto") or {}
    details = rto.get("details") or {}
    out: list[Marker] = []
    for f in run.get("faults") or []:
        at = epoch(f.get("injectedAt"))
        if at is not None:
            out.append(Marker("fault-injected", f"fault {f.get('fault') or f.get('name')}", at))
    if not any(m.key == "fault-injected" for m in out) and epoch(tl.get("faultStart")):
        out.append(Marker("fault-injected", "fault injected", epoch(tl["faultStart"]) or 0.0))
    start = epoch(tl.get("faultStart"))
    detect = _value(details.get("timeToDetectSeconds"))
    if start is not None and detect is not None:
        out.append(Marker("first-failure", f"first failure seen (+{detect:g}s)", start + detect))
    if (at := epoch(tl.get("failoverDone"))) is not None:
        out.append(Marker("failover-done", "failover done", at))
    seconds = _value(rto.get("seconds"))
    if start is not None and seconds is not None:
        out.append(Marker("recovered", f"recovered (RTO {seconds:g}s)", start + seconds))
    for f in run.get("faults") or []:
        at = epoch(f.get("recoveredAt"))
        if at is not None:
            out.append(
                Marker("fault-removed", f"fault {f.get('fault') or f.get('name')} removed", at)
            )
    if (at := epoch(tl.get("failbackStarted"))) is not None:
        out.append(Marker("failback-started", "failback started", at))
        back = _value(((run.get("measurements") or {}).get("failbackRto") or {}).get("seconds"))
        if back is not None:
            out.append(Marker("failback-recovered", f"failback recovered ({back:g}s)", at + back))
    if (at := epoch(tl.get("failbackDone"))) is not None:
        out.append(Marker("failback-done", "failback done", at))
    return sorted(out, key=lambda m: m.at)


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


def build(run: Mapping[str, Any]) -> Timeline:
    started = epoch(run.get("startedAt"))
    finished = epoch(run.get("finishedAt"))
    sli = _through_failback(
        [line for role in SLI_ROLES for line in series(run, role)],
        [line for role in SLI_ROLES for line in series(run, role, failback=True)],
    )
    lag = [line for role in LAG_ROLES for line in series(run, role)]
    marks = markers(run)
    times = [t for line in [*sli, *lag] for t, _ in line.points] + [m.at for m in marks]
    times += [t for t in (started, finished) if t is not None]
    now = max(times) if times else 0.0
    spans = phases(run, now)
    times += [t for s in spans for t in (s.start, s.end)]
    start, end = (min(times), max(times)) if times else (0.0, 1.0)
    if end <= start:
        end = start + 1.0
    fault_start = epoch((run.get("timeline") or {}).get("faultStart"))
    origin, origin_label = (
        (fault_start, "seconds from fault injection")
        if fault_start is not None
        else (started or start, "seconds from the start of the run")
    )
    step = _value((run.get("measurementInputs") or {}).get("stepSeconds"))
    step = step or _value(run.get("stepSeconds")) or 1.0
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
