"""`DrillReport`: a finished run as values a test asserts on (timedeltas, phases, faults).

Built from the run record (`run.json`, see docs/run-record.md), so what a test checks is
exactly what the record says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runner.engine.drill import RunResult
from runner.engine.verdict import Status
from runner.records.summary import render_text


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _worst(measurement: Mapping[str, Any] | None) -> Any:
    """The upper bound of a measurement (records before measurement v2: its `seconds`)."""
    if not measurement:
        return None
    if "upperSeconds" in measurement:
        return measurement["upperSeconds"]
    return measurement.get("seconds")


def _delta(seconds: Any) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=float(seconds))


@dataclass(frozen=True, kw_only=True)
class Phase:
    name: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True, kw_only=True)
class Fault:
    cluster: str
    fault: str
    kind: str
    name: str
    namespace: str | None
    injected_at: datetime | None
    recovered_at: datetime | None

    @property
    def removed(self) -> bool:
        return self.recovered_at is not None


@dataclass(frozen=True, kw_only=True, repr=False)
class DrillReport:
    """What one drill run measured and did; `str(report)` is the plain-text summary."""

    run_id: str
    scenario: str
    status: Status
    reason: str
    record_dir: Path
    rto: timedelta | None
    """Measured recovery time, the worst case the data allows (the upper bound of the
    measured interval): `assert report.rto <= x` holds only if it is proven. None when
    unknown (not recovered, no data) or not measured."""
    rpo: timedelta | None
    """Measured data-loss window, the upper bound likewise; None when unknown."""
    rto_objective: timedelta | None
    rpo_objective: timedelta | None
    phases: dict[str, Phase]
    """By phase name, in the order they ran."""
    faults: list[Fault]
    observed: Mapping[str, Any] | None
    """The lab's own ground truth (rtoSeconds, lostWrites, ...); None outside the lab."""
    measurements: Mapping[str, Any]
    record: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @classmethod
    def from_result(cls, result: RunResult) -> DrillReport:
        return cls.from_record(result.record, record_dir=result.record_dir)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, record_dir: Path) -> DrillReport:
        measurements: Mapping[str, Any] = record.get("measurements") or {}
        objectives: Mapping[str, Any] = {
            k: (measurements.get(k) or {}).get("objectiveSeconds") for k in ("rto", "rpo")
        }
        return cls(
            run_id=str(record.get("runId", "")),
            scenario=str((record.get("scenario") or {}).get("name", "")),
            status=Status(str(record.get("status"))),
            reason=str(record.get("reason") or ""),
            record_dir=record_dir,
            rto=_delta(_worst(measurements.get("rto"))),
            rpo=_delta(_worst(measurements.get("rpo"))),
            rto_objective=_delta(objectives["rto"]),
            rpo_objective=_delta(objectives["rpo"]),
            phases={
                p["name"]: Phase(
                    name=p["name"],
                    status=p["status"],
                    started_at=_time(p.get("startedAt")),
                    finished_at=_time(p.get("finishedAt")),
                    error=p.get("error"),
                )
                for p in record.get("phases", [])
            },
            faults=[
                Fault(
                    cluster=f["cluster"],
                    fault=f.get("fault", ""),
                    kind=f["kind"],
                    name=f["name"],
                    namespace=f.get("namespace"),
                    injected_at=_time(f.get("injectedAt")),
                    recovered_at=_time(f.get("recoveredAt")),
                )
                for f in record.get("faults", [])
            ],
            observed=record.get("observed"),
            measurements=measurements,
            record=record,
        )

    def summary(self) -> str:
        """Verdict, objectives table, phase timeline, faults and where the record is."""
        return render_text(self.record, record_dir=str(self.record_dir))

    def properties(self) -> list[tuple[str, str]]:
        """JUnit properties: the verdict, RTO and RPO in seconds, the record's folder."""
        out = [("drill_run_id", self.run_id), ("drill_status", str(self.status))]
        for key in ("rto", "rpo"):
            m = self.measurements.get(key)
            if m:
                out.append((f"{key}_seconds", _number(m.get("seconds"))))
                out.append((f"{key}_objective_seconds", _number(m.get("objectiveSeconds"))))
                out.append((f"{key}_status", str(m.get("status"))))
        out.append(("drill_record", str(self.record_dir)))
        return out

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<DrillReport {self.scenario} {self.status} run={self.run_id}>"


def _number(value: Any) -> str:
    return "unknown" if value is None else f"{float(value):g}"
