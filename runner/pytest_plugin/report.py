"""`DrillReport`: a finished run as values a test asserts on (timedeltas, phases, faults).

Built from the run record (`run.json`, see docs/run-record.md), so what a test checks is
exactly what the record says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from runner.engine.drill import RunResult
from runner.journal.entries import FaultEntry, Measurements, PhaseEntry, Rpo, Rto
from runner.journal.observed import Observed
from runner.journal.run import Run
from runner.journal.status import Status
from runner.reports.summary import render_text

Phase = PhaseEntry
Fault = FaultEntry


def _worst(m: Rto | Rpo | None) -> float | None:
    """The upper bound of a measurement (records before measurement v2: its `seconds`)."""
    if m is None:
        return None
    if m.bounds is not None:
        return m.bounds.upper
    return m.seconds


def _delta(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


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
    observed: Observed | None
    """The lab's ground truth (None: the target observed nothing)."""
    """The lab's own ground truth (rtoSeconds, lostWrites, ...); None outside the lab."""
    measurements: Measurements
    """The typed RTO and RPO results (`runner.measure.results`)."""
    record: Run
    """The whole run, as its journal holds it."""

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @classmethod
    def from_result(cls, result: RunResult) -> DrillReport:
        return cls.from_record(result.record, record_dir=result.record_dir)

    @classmethod
    def from_record(cls, run: Run, *, record_dir: Path) -> DrillReport:
        m = run.measurements
        return cls(
            run_id=run.run_id,
            scenario=run.scenario.name,
            status=run.status,
            reason=run.reason,
            record_dir=record_dir,
            rto=_delta(_worst(m.rto)),
            rpo=_delta(_worst(m.rpo)),
            rto_objective=_delta(None if m.rto is None else m.rto.objective_seconds),
            rpo_objective=_delta(None if m.rpo is None else m.rpo.objective_seconds),
            phases={p.name.value: p for p in run.phases},
            faults=list(run.faults),
            observed=run.observed,
            measurements=m,
            record=run,
        )

    def summary(self) -> str:
        """Verdict, objectives table, phase timeline, faults and where the record is."""
        return render_text(self.record, record_dir=str(self.record_dir))

    def properties(self) -> list[tuple[str, str]]:
        """JUnit properties: the verdict, RTO and RPO in seconds, the record's folder."""
        out = [("drill_run_id", self.run_id), ("drill_status", str(self.status))]
        for key, m in (("rto", self.measurements.rto), ("rpo", self.measurements.rpo)):
            if m is None:
                continue
            out.append((f"{key}_seconds", _number(m.seconds)))
            out.append((f"{key}_objective_seconds", _number(m.objective_seconds)))
            out.append((f"{key}_status", m.status.value))
        out.append(("drill_record", str(self.record_dir)))
        return out

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<DrillReport {self.scenario} {self.status} run={self.run_id}>"


def _number(value: float | None) -> str:
    return "unknown" if value is None else f"{round(value, 3):g}"
