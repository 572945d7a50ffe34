"""Adversarial drill histories with known truth: the conformance suite's cases.

Each case is a small *world* (what really happened: when users were down, how far
replication lagged, which writes were lost) and what monitoring *wrote* about it (sample
times, holes where a target's samples were filled in, NaN and ±Inf, a clock that lies).
The samples are written as OpenMetrics and backfilled with promtool into a real
Prometheus, which keeps no staleness marker for them: every hole is a "filled-in" hole,
as with federation, restarts or remote storage. Live-scrape cases (with staleness
markers) are in test_conformance.py.

For every case the test compares what drill-runner measures with `oracle` (the ideal
verdict from the samples) and with the world (no false pass; the true value inside the
reported bounds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.infra.prometheus import OpenMetrics

F_S = 1748737800  # 2025-06-01T00:30:00Z
F = F_S * 1000
STEP = 5_000
CONTEXT = 300  # seconds of history written before F
Spans = list[tuple[float, float]]


def s(offset: float) -> int:
    """Milliseconds at `offset` seconds from F."""
    return F + round(offset * 1000)


def times(every: float, phase: float = 0.0, lo: float = -CONTEXT, hi: float = 430) -> list[float]:
    out, t = [], lo + phase
    while t <= hi:
        out.append(round(t, 3))
        t += every
    return out


def down(spans: Spans) -> Callable[[float], bool]:
    return lambda t: any(a <= t < b for a, b in spans)


@dataclass
class Case:
    name: str
    kind: str  # rto | lag | canary
    cls: str  # the class(es) this case probes
    spec: dict[str, Any]
    series: dict[str, list[tuple[float, float]]]
    """Metric name (with extra labels after '|') -> (offset seconds, value) as written."""
    expr_notes: str = ""
    real: float | None = None
    """The physical truth: RTO seconds (from F), max lag, or lost writes."""
    real_window: float | None = None
    window_end: float = 300.0
    failover_done: float | None = None
    requested: float | None = None
    fault_start_us: int = 0
    """Microseconds added to F when handing it to the measurement (canonical: floored)."""
    oracle_input: dict[str, Any] = field(default_factory=dict)

    def labels(self, key: str) -> tuple[str, dict[str, str]]:
        name, _, extra = key.partition("|")
        labels = {"case": self.name}
        if extra:
            k, _, v = extra.partition("=")
            labels[k] = v
        return name, labels


def _sli_samples(
    world: Callable[[float], bool],
    ts: list[float],
    *,
    holes: Spans = (),  # type: ignore[assignment]
    override: dict[float, float] | None = None,
    window: float = 0.0,
) -> list[tuple[float, float]]:
    out = []
    for t in ts:
        if any(a <= t < b for a, b in holes):
            continue
        if window:
            bad = any(world(t - window + i * 0.1) for i in range(int(window * 10) + 1))
        else:
            bad = world(t)
        v = 0.0 if bad else 1.0
        if override and t in override:
            v = override[t]
        out.append((t, v))
    return out


def _rto(
    name: str,
    cls: str,
    outages: Spans,
    *,
    every: float = 5,
    phase: float = 0,
    hold: str = "20s",
    objective: str = "2m",
    holes: Spans = (),  # type: ignore[assignment]
    override: dict[float, float] | None = None,
    sli: str | None = None,
    extra: dict[str, Any] | None = None,
    real: float | None = None,
    window_end: float = 300,
    requested: float | None = None,
    series: dict[str, list[tuple[float, float]]] | None = None,
) -> Case:
    world = down(outages)
    if series is None:
        series = {
            "drill_sli": _sli_samples(world, times(every, phase), holes=holes, override=override)
        }
    rto = {"sli": sli or f'drill_sli{{case="{name}"}}', "upWhen": ">= 1", "hold": hold}
    rto.update(extra or {})
    if real is None:
        ends = [b for a, b in outages if a < window_end and b > 0]
        real = max(ends) if ends else 0.0
    return Case(
        name=name,
        kind="rto",
        cls=cls,
        spec={"measure": {"rto": rto}, "objectives": {"rto": objective}},
        series=series,
        real=real,
        window_end=window_end,
        requested=requested,
    )


def rto_cases() -> list[Case]:
    out = [
        _rto("clean-met", "baseline", [(3, 63)]),
        _rto("clean-missed", "baseline", [(3, 63)], objective="50s"),
        _rto("clean-too-close", "5 verdict inside uncertainty", [(3, 63)], objective="62s"),
        _rto(
            "sparse30-inside", "4,5 sparse; objective inside", [(3, 100)], every=30, objective="95s"
        ),
        _rto(
            "sparse30-hold",
            "4 sparse; hold from real sample times",
            [(2, 100)],
            every=30,
            phase=20,
            hold="30s",
            objective="60s",
        ),
        _rto("flapping", "6 blip shorter than hold", [(3, 43), (58, 83)]),
        _rto("never-recovers", "6 not recovered", [(3, 10_000)], real=math.inf),
        _rto("never-failed", "6c never failed", []),
        _rto("late-bite", "6a outage starts after hold", [(150, 305)], window_end=400),
        _rto(
            "relapse", "6b re-failure after hold", [(3, 33), (100, 130)], objective="200s", real=130
        ),
        _rto(
            "failing-at-fault",
            "6d outage began after the request",
            [(-6, 40)],
            objective="45s",
            requested=-12,
            real=46,
        ),
        _rto(
            "failing-before-request",
            "6d outage older than the drill",
            [(-30, 40)],
            objective="60s",
            requested=-2,
        ),
        _rto(
            "filled-in-40s",
            "3 target silent 40 s (explicit timestamps)",
            [(10, 45)],
            holes=[(10, 50)],
            objective="30s",
        ),
        _rto(
            "filled-in-40s-generous",
            "3 silent target, objective beyond the hole",
            [(10, 45)],
            holes=[(10, 50)],
            objective="2m",
        ),
        _rto(
            "restart-hole-in-outage",
            "3 Prometheus restart during the outage",
            [(3, 70)],
            holes=[(30, 60)],
        ),
        _rto(
            "hole-at-recovery",
            "3 hole across the recovery",
            [(3, 62)],
            holes=[(40, 80)],
            objective="60s",
        ),
        _rto(
            "hole-inside-hold",
            "3 hole after recovery, inside hold",
            [(3, 50)],
            holes=[(60, 90)],
            objective="60s",
        ),
        _rto(
            "nan-samples",
            "8 NaN SLI samples",
            [(3, 40)],
            override={20: math.nan, 25: math.nan, 30: math.nan, 35: math.nan},
        ),
        _rto(
            "inf-samples",
            "8 +Inf SLI samples",
            [(3, 38)],
            override={40: math.inf, 45: math.inf},
            objective="60s",
        ),
        _rto(
            "all-nan",
            "8 nothing but NaN",
            [(3, 40)],
            override={t: math.nan for t in times(5)},
            real=None,
        ),
        _rto("tail-gap", "3 data stops before the window ends", [(3, 40)], holes=[(240, 400)]),
        _rto(
            "window-too-short",
            "6 healthy run shorter than hold at window end",
            [(3, 280)],
            hold="30s",
        ),
        _rto("no-data", "no samples at all", [(3, 40)], sli='drill_sli{case="absent"}', real=None),
    ]
    # several series, not aggregated
    world = down([(3, 40)])
    out.append(
        _rto(
            "not-aggregated",
            "several series",
            [(3, 40)],
            sli='drill_multi{case="not-aggregated"}',
            series={
                "drill_multi|instance=a": _sli_samples(world, times(5)),
                "drill_multi|instance=b": _sli_samples(world, times(5, 2)),
            },
            real=None,
        )
    )
    # min() over two phase-shifted series: the failing value rests on the older sample
    a, b = down([(3, 42)]), down([(3, 47)])
    out.append(
        _rto(
            "min-phase-shifted",
            "4 compound SLI, distinct sample times",
            [(3, 47)],
            sli='min(drill_multi{case="min-phase-shifted"})',
            series={
                "drill_multi|instance=a": _sli_samples(a, times(10)),
                "drill_multi|instance=b": _sli_samples(b, times(10, 5)),
            },
        )
    )
    # min() where one series goes silent while healthy-looking (filled in by Prometheus)
    b_world = down([(8, 85)])
    out.append(
        _rto(
            "min-one-filled-in",
            "3 compound SLI, one series filled in",
            [(8, 85)],
            sli='min(drill_multi{case="min-one-filled-in"})',
            objective="60s",
            series={
                "drill_multi|instance=a": _sli_samples(down([]), times(10)),
                "drill_multi|instance=b": _sli_samples(b_world, times(10, 5), holes=[(10, 90)]),
            },
        )
    )
    # a range function in the SLI: avg_over_time over 20 s widens the lower bound
    out.append(
        _rto(
            "avg-over-time",
            "9 range function in the SLI",
            [(3, 60)],
            sli='avg_over_time(drill_sli{case="avg-over-time"}[20s])',
            objective="70s",
        )
    )
    # an exporter that reports a 10 s success ratio: sliWindow widens the lower bound
    w10 = down([(3, 60)])
    out.append(
        _rto(
            "sli-window",
            "9 exporter's own window (sliWindow)",
            [(3, 60)],
            objective="58s",
            extra={"sliWindow": "10s"},
            series={"drill_sli": _sli_samples(w10, times(5), window=10)},
        )
    )
    # canonical time: a sub-millisecond fault start with a failing sample exactly at F
    c = _rto("sub-ms-fault-start", "1 time resolution", [(-0.001, 40)], requested=None)
    c.fault_start_us = 400
    out.append(c)
    return out


def _lag(
    name: str,
    cls: str,
    world: Callable[[float], float],
    ts: list[float],
    *,
    lookback: str = "1m",
    objective: str = "5s",
    override: dict[float, float] | None = None,
    query: str | None = None,
    series: dict[str, list[tuple[float, float]]] | None = None,
    real: float | None = None,
    fault_start_us: int = 0,
) -> Case:
    if series is None:
        samples = [(t, world(t)) for t in ts if t <= 0]
        if override:
            samples = [(t, override.get(t, v)) for t, v in samples]
            samples += [(t, v) for t, v in override.items() if t not in dict(samples)]
        series = {"drill_lag_seconds": sorted(samples)}
    seconds = float(lookback.rstrip("sm")) * (60 if lookback.endswith("m") else 1)
    if real is None:
        real = max(world(-seconds + i * 0.01) for i in range(int(seconds * 100) + 1))
    return Case(
        name=name,
        kind="lag",
        cls=cls,
        spec={
            "measure": {
                "rpo": {
                    "lag": {
                        "query": query or f'drill_lag_seconds{{case="{name}"}}',
                        "lookback": lookback,
                    }
                }
            },
            "objectives": {"rpo": objective},
        },
        series=series,
        real=real,
        fault_start_us=fault_start_us,
    )


def ramp(start: float, peak_at: float, base: float = 0.2) -> Callable[[float], float]:
    """Lag `base`, growing 1 s/s from `start` until `peak_at`, then caught up at once."""
    return lambda t: base + (t - start) if start <= t < peak_at else base


def lag_cases() -> list[Case]:
    return [
        _lag(
            "lag-peak-between-samples",
            "9 peak between 5 s samples",
            ramp(-20, -16.5),
            times(5, 0, -300, 0),
        ),
        _lag("lag-peak-1s", "9 same world, 1 s samples", ramp(-20, -16.5), times(1, 0, -300, 0)),
        _lag(
            "lag-15s-scrape",
            "9 the issue's 26 reported, 40 real",
            ramp(-55, -15, 0.0),
            times(15, 1, -300, 0),
            objective="30s",
        ),
        _lag(
            "lag-rising-at-loss",
            "2 lag at the instant of loss",
            ramp(-8, 1, 0.0),
            times(5, 1, -300, 0),
        ),
        _lag(
            "lag-boundary",
            "1,2 lookback not a multiple of the step; sample on the edge",
            lambda t: 4.0 if abs(t + 7.5) < 1e-9 else 0.2,
            times(2.5, 0, -300, 0),
            lookback="7.5s",
            objective="3s",
            fault_start_us=400,
        ),
        _lag(
            "lag-nan-first",
            "8 NaN first sample",
            lambda t: 0.5,
            times(5, 0, -300, 0),
            override={-300: math.nan},
            objective="10s",
        ),
        _lag(
            "lag-inf",
            "8 +Inf sample",
            lambda t: 0.5,
            times(5, 0, -300, 0),
            override={-10: math.inf},
        ),
        _lag(
            "lag-silent-exporter",
            "3 lag exporter silent (filled in) before the fault",
            lambda t: 0.0 if t < -120 else 0.0 + (t + 120),
            times(5, 0, -300, -120),
        ),
        _lag(
            "lag-no-data",
            "no lag data",
            lambda t: 0.0,
            [],
            query='drill_lag_seconds{case="none"}',
            real=0.0,
        ),
        _lag(
            "lag-two-series-max",
            "compound max() over replicas, read on the 5 s grid",
            lambda t: 2.0,
            times(1, 0, -300, 0),
            objective="8s",
            query='max(drill_lag_seconds{case="lag-two-series-max"})',
            series={
                "drill_lag_seconds|replica=a": [(t, 0.2) for t in times(1, 0, -300, 0)],
                "drill_lag_seconds|replica=b": [(t, 2.0) for t in times(1, 0, -300, 0)],
            },
        ),
        _lag(
            "lag-dies-before-fault",
            "3 exporter dies 30 s before the loss",
            lambda t: 0.3,
            times(5, 0, -300, -30),
        ),
    ]


def _canary(
    name: str,
    cls: str,
    *,
    acked_until: int = 1000,
    present_contiguous: int = 1000,
    naive_present_max: int | None = None,
    present_clock_skew: float = 0.0,
    ack_override: dict[float, float] | None = None,
    ack_after_f: bool = True,
    present_from: float = 20,
    missing: int | None = None,
    real_lost: int = 0,
    objectives: dict[str, Any] | None = None,
) -> Case:
    """A writer acknowledging 10 writes/s (seq = 10·t + acked_until) until the loss at F."""
    ack_times = [t for t in times(1, 0, -300, 120) if (t < 0 or ack_after_f)]
    acks = [(t, float(min(acked_until, acked_until + 10 * t))) for t in ack_times]
    if ack_override:
        acks = sorted({**dict(acks), **ack_override}.items())
    ack_ts = [(t, F_S + min(0.0, t)) for t in ack_times]
    after = [t for t in times(1, 0, present_from, 120)]
    # the writer's own timestamp of write n is F + (n - acked_until) / 10
    ptime = F_S + (present_contiguous - acked_until) / 10 + present_clock_skew
    series: dict[str, list[tuple[float, float]]] = {
        "drill_canary_ack": acks,
        "drill_canary_ack_time": ack_ts,
        "drill_canary_present_time": [(t, ptime) for t in after],
    }
    canary = {
        "acknowledged": f'drill_canary_ack{{case="{name}"}}',
        "acknowledgedTime": f'drill_canary_ack_time{{case="{name}"}}',
        "presentTime": f'drill_canary_present_time{{case="{name}"}}',
    }
    if missing is None:
        series["drill_canary_present"] = [(t, float(present_contiguous)) for t in after]
        canary["present"] = f'drill_canary_present{{case="{name}"}}'
    else:
        series["drill_canary_missing"] = [(t, float(missing)) for t in after]
        canary["missing"] = f'drill_canary_missing{{case="{name}"}}'
    if naive_present_max is not None:
        series["drill_canary_max_seq"] = [(t, float(naive_present_max)) for t in after]
    return Case(
        name=name,
        kind="canary",
        cls=cls,
        spec={
            "measure": {"rpo": {"canary": canary}},
            "objectives": objectives or {"rpo": "5s", "maxLostWrites": 0},
        },
        series=series,
        real=real_lost,
        window_end=120,
        failover_done=15,
    )


def canary_cases() -> list[Case]:
    return [
        _canary("canary-no-loss", "7 baseline"),
        _canary(
            "canary-writes-continue",
            "7a writes continue on the new primary",
            present_contiguous=980,
            naive_present_max=1300,
            real_lost=20,
        ),
        _canary(
            "canary-clock-skew",
            "7b new primary's clock 5 s ahead",
            present_contiguous=970,
            present_clock_skew=5.0,
            real_lost=30,
            objectives={"rpo": "5s", "maxLostWrites": 50},
        ),
        _canary("canary-nan", "8 NaN acknowledged sample", ack_override={10: math.nan}),
        _canary("canary-missing-count", "7 explicit missing count", missing=12, real_lost=12),
        _canary(
            "canary-no-ack-after-fault", "7 acks seen only before the fault", ack_after_f=False
        ),
        _canary(
            "canary-present-silent",
            "3 new primary's exporter silent after failover",
            present_from=200,
        ),
        _canary(
            "canary-loss-within-limits",
            "7 lost writes allowed, time within",
            present_contiguous=990,
            real_lost=10,
            objectives={"rpo": "5s", "maxLostWrites": 20},
        ),
    ]


def all_cases() -> list[Case]:
    return rto_cases() + lag_cases() + canary_cases()


def openmetrics(cases: list[Case]) -> str:
    om = OpenMetrics()
    for case in cases:
        for key, points in case.series.items():
            name, labels = case.labels(key)
            om.add(name, [(F_S + t, v) for t, v in points], labels=labels)
    return om.text()
