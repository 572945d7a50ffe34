"""What the target observed itself: the lab's ground truth beside the measurements (what
really happened, from its prober, writer and DNS watcher), typed, with its run.json form
(`observed`, docs/run-record.md).

A backend reports a mapping (`TargetBackend.observed`, `observed_failback`); the engine
reads it here, once. Each value records which of its known keys the backend reported, in
its order, so a record is written back as it was; keys it does not know, and a known key
whose value cannot be read (the ground truth informs, it never judges), are kept as
written in `extra`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runner.breakdown import GroundTruth, LatencyComparison
from runner.measure.continuity import PhaseCount
from runner.measure.failback import RejoinFacts

JSON = dict[str, Any]


def _float(value: Any) -> float | None:
    """A number as written (a whole one stays an int, so it is written back the same)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number")
    return value


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not a whole number")
    return value


def _number(value: Any) -> float:
    number = _float(value)
    if number is None:
        raise TypeError("a number is missing")
    return number


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _times(value: Any) -> dict[str, float]:
    """{name: unix seconds}."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{value!r} is not an object")
    out: dict[str, float] = {}
    for k, v in value.items():
        number = _float(v)
        if number is None:
            raise TypeError(f"{k}: no time")
        out[str(k)] = number
    return out


def _nested(build: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else build(value)


def _json(value: Any) -> Any:
    return None if value is None else value.to_json()


@dataclass(frozen=True)
class _Field:
    """One known key of a backend's report: its run.json key, the attribute, how it is
    read (raising when it cannot be) and written."""

    key: str
    attr: str
    read: Callable[[Any], Any]
    write: Callable[[Any], Any] = lambda value: value


def _from_json(cls: Any, fields: tuple[_Field, ...], d: Mapping[str, Any], **more: Any) -> Any:
    """`cls` from a report: each known key read, which ones in which order kept (`keys`),
    the rest, and every key that cannot be read, kept as written (`extra`)."""
    typed: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    by_key = {f.key: f for f in fields}
    for key, value in d.items():
        known = by_key.get(key)
        if known is None:
            extra[key] = value
            continue
        try:
            typed[key] = known.read(value)
        except (KeyError, TypeError, ValueError, AttributeError):
            extra[key] = value
    values = {by_key[k].attr: v for k, v in typed.items()}
    return cls(**values, keys=tuple(typed), extra=extra, **more)


def _to_json(value: Any, fields: tuple[_Field, ...]) -> JSON:
    """The report again: the keys it had, in their order (every value that is set when it
    was made here: `keys` None), then what was kept as written."""
    written = {f.key: f.write(getattr(value, f.attr)) for f in fields}
    keys = value.keys
    if keys is None:
        keys = tuple(k for k, v in written.items() if v is not None)
    return {**{k: written[k] for k in keys}, **value.extra}


@dataclass(frozen=True, kw_only=True)
class FirstFailure:
    """When the lab applied the fault the runner confirmed, and when the first probe that
    failed after that ended (a client saw the failure); unix seconds, None if not seen."""

    fault_applied: float | None = None
    first_failure_seen: float | None = None

    def to_json(self) -> JSON:
        return {"faultApplied": self.fault_applied, "firstFailureSeen": self.first_failure_seen}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FirstFailure:
        return cls(
            fault_applied=_float(d["faultApplied"]),
            first_failure_seen=_float(d["firstFailureSeen"]),
        )


@dataclass(frozen=True, kw_only=True)
class DnsTruth:
    """Behind global DNS: when the last authoritative server changed to the final answer
    (in (`converged_after`, `converged_at`]), each server's change, the answer, when each
    client first got it and when the last one did (unix seconds; None: not converged)."""

    converged_at: float | None = None
    converged_after: float | None = None
    servers: Mapping[str, float] = field(default_factory=dict)
    answer: tuple[str, ...] | None = None
    clients: Mapping[str, float] = field(default_factory=dict)
    clients_switched_at: float | None = None
    keys: tuple[str, ...] | None = None
    """The keys the backend reported, in its order (None: every value that is set)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return _to_json(self, _DNS)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DnsTruth:
        built: DnsTruth = _from_json(cls, _DNS, d)
        return built


_DNS = (
    _Field("convergedAt", "converged_at", _float),
    _Field("convergedAfter", "converged_after", _float),
    _Field("servers", "servers", _times, dict),
    _Field("answer", "answer", _nested(lambda v: tuple(str(a) for a in v)), _nested(list)),
    _Field("clients", "clients", _times, dict),
    _Field("clientsSwitchedAt", "clients_switched_at", _float),
)


@dataclass(frozen=True, kw_only=True)
class ListedWrite:
    """One write the continuity check lists (lost, or written during a split brain)."""

    site: str
    seq: int
    ts: float
    """The writer's timestamp (unix seconds)."""
    phase: str
    lost: bool | None = None
    """For a split-brain write: whether it was lost (None in the list of lost writes)."""

    def to_json(self) -> JSON:
        out: JSON = {"site": self.site, "seq": self.seq, "ts": self.ts, "phase": self.phase}
        if self.lost is not None:
            out["lost"] = self.lost
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ListedWrite:
        lost = d.get("lost")
        return cls(
            site=str(d["site"]),
            seq=int(d["seq"]),
            ts=_number(d["ts"]),
            phase=str(d["phase"]),
            lost=None if lost is None else bool(lost),
        )


@dataclass(frozen=True, kw_only=True)
class ContinuityTruth:
    """Every write the target acknowledged since the drill began, checked on the final
    primary (`runner.measure.continuity.Continuity.to_json`: the lists hold the first 50)."""

    acknowledged_writes: int
    duplicate_reports: int
    lost_writes: int
    lost_window_seconds: float
    split_brain_writes: int
    split_brain_lost: int
    phases: tuple[PhaseCount, ...] = ()
    lost: tuple[ListedWrite, ...] = ()
    split_brain: tuple[ListedWrite, ...] = ()

    def to_json(self) -> JSON:
        return {
            "acknowledgedWrites": self.acknowledged_writes,
            "duplicateReports": self.duplicate_reports,
            "lostWrites": self.lost_writes,
            "lostWindowSeconds": self.lost_window_seconds,
            "splitBrainWrites": self.split_brain_writes,
            "splitBrainLost": self.split_brain_lost,
            "phases": [p.to_json() for p in self.phases],
            "lost": [w.to_json() for w in self.lost],
            "splitBrain": [w.to_json() for w in self.split_brain],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ContinuityTruth:
        return cls(
            acknowledged_writes=int(d["acknowledgedWrites"]),
            duplicate_reports=int(d["duplicateReports"]),
            lost_writes=int(d["lostWrites"]),
            lost_window_seconds=_number(d["lostWindowSeconds"]),
            split_brain_writes=int(d["splitBrainWrites"]),
            split_brain_lost=int(d["splitBrainLost"]),
            phases=tuple(PhaseCount.from_json(p) for p in d.get("phases") or []),
            lost=tuple(ListedWrite.from_json(w) for w in d.get("lost") or []),
            split_brain=tuple(ListedWrite.from_json(w) for w in d.get("splitBrain") or []),
        )


def _rejoin(value: Any) -> RejoinFacts | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{value!r} is not an object")
    return RejoinFacts.from_json(dict(value))


def _rejoin_json(facts: RejoinFacts | None) -> JSON | None:
    """The facts as the lab records them (no `step`: it reports them itself)."""
    if facts is None:
        return None
    out = facts.to_json()
    if facts.step is None:
        out.pop("step", None)
    return out


@dataclass(frozen=True, kw_only=True)
class FailbackTruth:
    """The failback's ground truth: its RTO from the prober (from `failbackStarted`), how the
    old primary rejoined, and the continuity of every write; or why it was not observed."""

    site: str | None = None
    """The old primary (the site failed back to)."""
    rto_seconds: float | None = None
    probes: int | None = None
    failed_probes: int | None = None
    rejoin: RejoinFacts | None = None
    continuity: ContinuityTruth | None = None
    error: str | None = None
    keys: tuple[str, ...] | None = None
    """The keys the backend reported, in its order (None: every value that is set)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JSON:
        return _to_json(self, _FAILBACK)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FailbackTruth:
        built: FailbackTruth = _from_json(cls, _FAILBACK, d)
        return built


_FAILBACK = (
    _Field("site", "site", _text),
    _Field("rtoSeconds", "rto_seconds", _float),
    _Field("probes", "probes", _int),
    _Field("failedProbes", "failed_probes", _int),
    _Field("rejoin", "rejoin", _rejoin, _rejoin_json),
    _Field("continuity", "continuity", _nested(ContinuityTruth.from_json), _json),
    _Field("error", "error", _text),
)


@dataclass(frozen=True, kw_only=True)
class Observed:
    """The lab's own ground truth of the failover (and, once failed back, of the failback),
    or why it could not be observed (`error`)."""

    rto_seconds: float | None = None
    """From the fault start until the first probe of the final run of successful probes
    that held; None: it never recovered."""
    lost_writes: int | None = None
    """Acknowledged writes missing from the new primary (None: its rows were unreadable)."""
    lost_window_seconds: float | None = None
    probes: int | None = None
    failed_probes: int | None = None
    acknowledged_writes: int | None = None
    moments: FirstFailure | None = None
    write_latency: LatencyComparison | None = None
    """Synchronous against asynchronous commit latency before the fault (a synchronous
    replication lab); it informs, never judges."""
    write_latency_json: Mapping[str, Any] | None = None
    """`write_latency` as the backend wrote it (its penalties were computed before rounding:
    written back as they were, not recomputed)."""
    dns: DnsTruth | None = None
    failback: FailbackTruth | None = None
    error: str | None = None
    keys: tuple[str, ...] | None = None
    """The known keys the backend reported, in its order, which is how the record is
    written (None: every value that is set)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def scalars(self) -> list[tuple[str, Any]]:
        """The values a summary line shows, as run.json names them (nested objects are left
        to their own views)."""
        return [(k, v) for k, v in self.to_json().items() if not isinstance(v, dict | list)]

    def ground_truth(self) -> GroundTruth:
        """The moments the RTO's breakdown compares with (`runner.breakdown`)."""
        return GroundTruth(
            first_failure_seen=None if self.moments is None else self.moments.first_failure_seen,
            dns_converged_at=None if self.dns is None else self.dns.converged_at,
            clients_switched_at=None if self.dns is None else self.dns.clients_switched_at,
            rto_seconds=self.rto_seconds,
        )

    def with_failback(self, truth: FailbackTruth) -> Observed:
        keys = self.keys
        if keys is not None and "failback" not in keys:
            keys = (*keys, "failback")
        return replace(self, failback=truth, keys=keys)

    def to_json(self) -> JSON:
        out = _to_json(self, _OBSERVED)
        if "writeLatency" in out and self.write_latency_json is not None:
            out["writeLatency"] = dict(self.write_latency_json)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Observed:
        latency = d.get("writeLatency")
        built: Observed = _from_json(
            cls,
            _OBSERVED,
            d,
            write_latency_json=dict(latency) if isinstance(latency, Mapping) else None,
        )
        if built.write_latency is None:  # unreadable: kept in `extra` as written
            built = replace(built, write_latency_json=None)
        return built


_OBSERVED = (
    _Field("writeLatency", "write_latency", LatencyComparison.from_json, _json),
    _Field("dns", "dns", _nested(DnsTruth.from_json), _json),
    _Field("moments", "moments", _nested(FirstFailure.from_json), _json),
    _Field("rtoSeconds", "rto_seconds", _float),
    _Field("lostWrites", "lost_writes", _int),
    _Field("lostWindowSeconds", "lost_window_seconds", _float),
    _Field("probes", "probes", _int),
    _Field("failedProbes", "failed_probes", _int),
    _Field("acknowledgedWrites", "acknowledged_writes", _int),
    _Field("failback", "failback", _nested(FailbackTruth.from_json), _json),
    _Field("error", "error", _text),
)
