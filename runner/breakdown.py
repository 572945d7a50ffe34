"""The figures a pattern's drill adds to the run record, as frozen values with `to_json`:
the write latency of synchronous against asynchronous commits (the latency penalty), and
the RTO's phase breakdown for a DNS failover.

They live in one small module below the adapters so that the lab (which observes them),
the engine (which records them) and the reports (which draw them) share one definition,
and the typed run journal can take them over as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values by linear interpolation (numpy's default method)."""
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# --------------------------------------------------------------------------- write latency


@dataclass(frozen=True, kw_only=True)
class LatencyStats:
    """Commit latencies of one kind of write, in seconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: Iterable[float]) -> LatencyStats | None:
        values = sorted(s for s in seconds if math.isfinite(s) and s >= 0)
        if not values:
            return None
        return cls(
            count=len(values),
            p50=quantile(values, 0.5),
            p95=quantile(values, 0.95),
            p99=quantile(values, 0.99),
            max=values[-1],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50Seconds": _r(self.p50),
            "p95Seconds": _r(self.p95),
            "p99Seconds": _r(self.p99),
            "maxSeconds": _r(self.max),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatencyStats:
        return cls(
            count=int(data["count"]),
            p50=float(data["p50Seconds"]),
            p95=float(data["p95Seconds"]),
            p99=float(data["p99Seconds"]),
            max=float(data["maxSeconds"]),
        )


@dataclass(frozen=True, kw_only=True)
class LatencyComparison:
    """Synchronous and asynchronous commits timed side by side in one window of one run."""

    start: float
    end: float
    """The window (unix seconds): the steady period before the fault."""
    sync: LatencyStats | None
    async_: LatencyStats | None

    @property
    def penalty_p50(self) -> float | None:
        """What waiting for the synchronous standby adds to the median commit."""
        if self.sync is None or self.async_ is None:
            return None
        return self.sync.p50 - self.async_.p50

    @property
    def penalty_p99(self) -> float | None:
        if self.sync is None or self.async_ is None:
            return None
        return self.sync.p99 - self.async_.p99

    def to_json(self) -> dict[str, Any]:
        return {
            "start": _r(self.start, 3),
            "end": _r(self.end, 3),
            "sync": None if self.sync is None else self.sync.to_json(),
            "async": None if self.async_ is None else self.async_.to_json(),
            "penaltyP50Seconds": _r(self.penalty_p50),
            "penaltyP99Seconds": _r(self.penalty_p99),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatencyComparison:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            sync=LatencyStats.from_json(data["sync"]) if data.get("sync") else None,
            async_=LatencyStats.from_json(data["async"]) if data.get("async") else None,
        )

    def text(self) -> str:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.1f} ms"

        s, a = self.sync, self.async_
        return (
            f"sync p50 {ms(s.p50 if s else None)} p99 {ms(s.p99 if s else None)} "
            f"({s.count if s else 0} commits); async p50 {ms(a.p50 if a else None)} "
            f"p99 {ms(a.p99 if a else None)} ({a.count if a else 0}); "
            f"penalty p50 {ms(self.penalty_p50)}"
        )


# --------------------------------------------------------------------------- RTO phases


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ts(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True, kw_only=True)
class Moment:
    """A moment the data proves to lie in [lower, upper] (unix seconds)."""

    lower: float
    upper: float

    @property
    def uncertainty(self) -> float:
        return (self.upper - self.lower) / 2

    @property
    def midpoint(self) -> float:
        return (self.lower + self.upper) / 2

    def shifted(self, seconds: float) -> Moment:
        return Moment(lower=self.lower + seconds, upper=self.upper + seconds)


@dataclass(frozen=True, kw_only=True)
class RtoPhase:
    """One milestone of the recovery: when the runner's data puts it (`measured`, an
    interval) and, in the lab, when it really happened (`observed`, the ground truth)."""

    key: str
    label: str
    measured: Moment | None
    observed: float | None = None
    how: str = ""

    def to_json(self, fault_start: float) -> dict[str, Any]:
        m = self.measured

        def rel(ts: float | None) -> float | None:
            return None if ts is None else round(ts - fault_start, 3)

        return {
            "key": self.key,
            "label": self.label,
            "how": self.how,
            "measured": None
            if m is None
            else {
                "lower": _iso(m.lower),
                "upper": _iso(m.upper),
                "lowerSeconds": rel(m.lower),
                "upperSeconds": rel(m.upper),
                "seconds": rel(m.midpoint),
                "uncertaintySeconds": round(m.uncertainty, 3),
            },
            "observed": None
            if self.observed is None
            else {"at": _iso(self.observed), "seconds": rel(self.observed)},
        }


PHASES = ("detected", "orchestrated", "dns-converged", "ttl-bound", "healthy")


@dataclass(frozen=True, kw_only=True)
class RtoPhases:
    """The RTO of a DNS failover broken down: detected, orchestration done, DNS converged on
    every authoritative server, the TTL bound (converged + TTL: the moment the last
    well-behaved client must have the new answer) and the SLI healthy for good."""

    fault_start: float
    ttl_seconds: float | None
    phases: tuple[RtoPhase, ...]

    def phase(self, key: str) -> RtoPhase | None:
        return next((p for p in self.phases if p.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "faultStart": _iso(self.fault_start),
            "ttlSeconds": self.ttl_seconds,
            "phases": [p.to_json(self.fault_start) for p in self.phases],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RtoPhases:
        start = _ts(data.get("faultStart"))
        if start is None:
            raise ValueError("rtoPhases without faultStart")
        phases = []
        for p in data.get("phases") or []:
            m = p.get("measured") or None
            lower, upper = (_ts(m.get("lower")), _ts(m.get("upper"))) if m else (None, None)
            observed = _ts((p.get("observed") or {}).get("at"))
            phases.append(
                RtoPhase(
                    key=str(p["key"]),
                    label=str(p.get("label", p["key"])),
                    how=str(p.get("how", "")),
                    measured=None
                    if lower is None or upper is None
                    else Moment(lower=lower, upper=upper),
                    observed=observed,
                )
            )
        ttl = data.get("ttlSeconds")
        return cls(
            fault_start=start, ttl_seconds=None if ttl is None else float(ttl), phases=tuple(phases)
        )


@dataclass(frozen=True, kw_only=True)
class GroundTruth:
    """The moments the lab itself saw (unix seconds; None: not seen), for the breakdown."""

    first_failure_seen: float | None = None
    """When the first probe that failed after the fault ended."""
    dns_converged_at: float | None = None
    clients_switched_at: float | None = None
    rto_seconds: float | None = None
    """The observed RTO, from the fault start."""


def _dns_phases(
    dns_wait: Mapping[str, Any] | None, seen: GroundTruth
) -> tuple[float | None, list[RtoPhase]]:
    """The record's TTL and the two DNS phases: converged on every server (from the last
    `dns.wait` step's polls) and the TTL bound after it."""
    ttl: float | None = None
    converged: Moment | None = None
    if dns_wait:
        low, high = _ts(dns_wait.get("notConvergedAt")), _ts(dns_wait.get("convergedAt"))
        if low is not None and high is not None:
            converged = Moment(lower=min(low, high), upper=high)
        if dns_wait.get("ttlSeconds") is not None:
            ttl = float(dns_wait["ttlSeconds"])
    return ttl, [
        RtoPhase(
            key="dns-converged",
            label="DNS converged on every server",
            measured=converged,
            observed=seen.dns_converged_at,
            how="between the last poll that saw a server answer otherwise (or the update) "
            "and the poll that saw the last one answer the new set",
        ),
        RtoPhase(
            key="ttl-bound",
            label="TTL bound (converged + TTL)",
            measured=None if converged is None or ttl is None else converged.shifted(ttl),
            observed=seen.clients_switched_at,
            how="by then every client that honours the TTL has the new answer; observed: when "
            "the last lab client first got it",
        ),
    ]


def rto_phases(
    *,
    fault_start: float,
    detected: tuple[float | None, float] | None,
    failover_done: float | None,
    dns_wait: Mapping[str, Any] | None,
    healthy: tuple[float, float | None] | None,
    observed: GroundTruth | None,
) -> RtoPhases:
    """The breakdown from what the run found (unix seconds throughout): the SLI's last
    healthy and first failing samples (`detected`, raw sample times; the healthy one None
    when unknown), the end of the failover steps, the details of the failover's last
    `dns.wait` step, the RTO's bounds as moments (`healthy`, upper None: not recovered), and
    the lab's ground truth (`observed`, when there is one). A moment the data does not
    bound on both sides is left unmeasured rather than guessed."""
    seen = observed or GroundTruth()
    phases: list[RtoPhase] = []

    phases.append(
        RtoPhase(
            key="detected",
            label="failure detected",
            measured=None
            if detected is None or detected[0] is None
            else Moment(lower=detected[0], upper=detected[1]),
            observed=seen.first_failure_seen,
            how="between the SLI's last healthy sample and its first failing one (sample times);"
            " observed: when the first failed probe since the fault ended",
        )
    )
    phases.append(
        RtoPhase(
            key="orchestrated",
            label="failover steps done",
            measured=None
            if failover_done is None
            else Moment(lower=failover_done, upper=failover_done),
            how="the runner's clock when the last failover step returned",
        )
    )
    ttl, dns_phases = _dns_phases(dns_wait, seen)
    phases += dns_phases
    rto_seen = seen.rto_seconds
    phases.append(
        RtoPhase(
            key="healthy",
            label="SLI healthy for good",
            measured=None
            if healthy is None or healthy[1] is None
            else Moment(lower=healthy[0], upper=healthy[1]),
            observed=None if rto_seen is None else fault_start + float(rto_seen),
            how="the RTO's bounds",
        )
    )
    return RtoPhases(fault_start=fault_start, ttl_seconds=ttl, phases=tuple(phases))
