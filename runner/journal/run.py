"""`Run`: one run's journal as a frozen value, and its one JSON form (run.json).

`Run.to_json()` is what run.json holds (schema version `SCHEMA_VERSION`, fields in
docs/run-record.md); `Run.from_json()` reads every version ever written (measurement v1
records included: `LegacyMeasurement`) and refuses anything else with `JournalError`
naming the field. Fields a newer runner (or another feature) added that this one does not
model are kept in `extra` and written back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from runner.breakdown import RtoPhases
from runner.errors import DrillError
from runner.journal.entries import (
    JSON,
    Crash,
    FaultEntry,
    GuardrailBreach,
    JournalHead,
    Measurements,
    PhaseEntry,
    SteadyStateGate,
    StepEntry,
    Timeline,
    iso,
    parse_time,
)
from runner.journal.framing import ExerciseMetadata, InputFile, RunMode, TestFailoverNote
from runner.journal.observed import Observed
from runner.journal.status import Status
from runner.measure.spans import SpanResult

SCHEMA_VERSION = 1
"""run.json's layout. Measurement v1 and v2 records both say 1 (measurements are told apart
by their own fields); a change that old readers could not read raises it."""


class JournalError(DrillError):
    """A run.json that is not a run record (wrong shape, wrong types)."""


@dataclass(frozen=True, kw_only=True)
class Ref:
    """A scenario or drill: its name and the file it came from."""

    name: str
    path: str = ""

    def to_json(self) -> JSON:
        return {"name": self.name, "path": self.path}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Ref:
        return cls(name=str(d["name"]), path=str(d.get("path") or ""))


_KNOWN = {
    "schemaVersion", "runId", "scenario", "drill", "operator", "status", "reason", "startedAt",
    "finishedAt", "pid", "processStart", "host", "preflight", "runner", "targets", "objectives",
    "stepSeconds", "phases",
    "faults", "steps", "steadyState", "guardrails", "timeline", "measurements",
    "measurementInputs", "observed", "rtoPhases", "crash", "report", "journal", "inputs",
    "mode", "captured", "timings", "testFailover", "exercise",
}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Run:
    """Everything one run did and found; the engine appends, every front-end reads."""

    run_id: str
    scenario: Ref
    drill: Ref
    operator: str = ""
    status: Status = Status.RUNNING
    reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    pid: int | None = None
    process_start: int | None = None
    """When the runner process started (clock ticks since boot): a reused pid is not it."""
    host: str = ""
    runner_version: str = ""
    targets: Mapping[str, str] = field(default_factory=dict)
    objectives: Mapping[str, Any] = field(default_factory=dict)
    """The scenario's objectives as written (`rto`, `rpo`, `maxLostWrites`)."""
    preflight: Mapping[str, Any] | None = None
    """What preflight found: `missing` and `notes` by cluster."""
    step_seconds: float | None = None
    phases: tuple[PhaseEntry, ...] = ()
    faults: tuple[FaultEntry, ...] = ()
    steps: tuple[StepEntry, ...] = ()
    steady_state: Mapping[str, SteadyStateGate] = field(default_factory=dict)
    """By moment: `before` injection, `after` failback."""
    guardrails: tuple[GuardrailBreach, ...] = ()
    timeline: Timeline = field(default_factory=Timeline)
    measurements: Measurements = field(default_factory=Measurements)
    measurement_inputs: Mapping[str, Any] | None = None
    """Every series read, the step and the instants (`runner.measure.collect.remeasure`)."""
    observed: Observed | None = None
    rto_phases: RtoPhases | None = None
    """A DNS failover's RTO broken down (detected, orchestrated, DNS converged, TTL bound,
    healthy), each measured and, in the lab, observed (`runner.breakdown`)."""
    crash: Crash | None = None
    report: str | None = None
    """`report.html` once the reports are written."""
    journal: JournalHead | None = None
    """The head of events.jsonl's hash chain (None: recorded before tamper evidence)."""
    inputs: Mapping[str, InputFile] | None = None
    """The scenario and drill files as run, by role (`runner.evidence.inputs`)."""
    mode: RunMode | None = None
    """A drill or a test failover; None in records written before test failovers (drills)."""
    captured: Mapping[str, str] = field(default_factory=dict)
    """The values steps captured, by name (`${{ captured.<name> }}`)."""
    timings: tuple[SpanResult, ...] = ()
    """The scenario's `measure.timings`, each measured between its recorded instants."""
    test_failover: tuple[TestFailoverNote, ...] = ()
    """In a test failover: what it did instead of the drill."""
    exercise: ExerciseMetadata | None = None
    """The exercise the run belongs to (None: neither the scenario nor the drill has one)."""
    exercise_recorded: bool = False
    """Whether run.json says so (`exercise: null` when there is none); records written before
    exercise evidence have no `exercise` at all."""
    schema_version: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Top-level fields this runner does not model, kept as written."""

    @property
    def finished(self) -> bool:
        return self.status is not Status.RUNNING

    @property
    def last_phase(self) -> PhaseEntry | None:
        return self.phases[-1] if self.phases else None

    def faults_left(self) -> list[FaultEntry]:
        return [f for f in self.faults if not f.removed]

    def with_phase(self, index: int, **changes: Any) -> Run:
        items = list(self.phases)
        items[index] = replace(items[index], **changes)
        return replace(self, phases=tuple(items))

    def with_fault(self, index: int, **changes: Any) -> Run:
        items = list(self.faults)
        items[index] = replace(items[index], **changes)
        return replace(self, faults=tuple(items))

    def with_step(self, index: int, **changes: Any) -> Run:
        items = list(self.steps)
        items[index] = replace(items[index], **changes)
        return replace(self, steps=tuple(items))

    def to_json(self) -> JSON:
        out: JSON = {
            "schemaVersion": self.schema_version,
            "runId": self.run_id,
            "scenario": self.scenario.to_json(),
            "drill": self.drill.to_json(),
            "operator": self.operator,
            "status": self.status.value,
            "reason": self.reason,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at),
            "pid": self.pid,
            "host": self.host,
            "runner": {"version": self.runner_version},
            "targets": dict(self.targets),
            "objectives": dict(self.objectives),
            "phases": [p.to_json() for p in self.phases],
            "faults": [f.to_json() for f in self.faults],
            "steps": [s.to_json() for s in self.steps],
            "steadyState": {k: g.to_json() for k, g in self.steady_state.items()},
            "guardrails": [g.to_json() for g in self.guardrails],
            "timeline": self.timeline.to_json(),
            "measurements": self.measurements.to_json(),
            "observed": None if self.observed is None else self.observed.to_json(),
        }
        if self.process_start is not None:
            out["processStart"] = self.process_start
        if self.preflight is not None:
            out["preflight"] = dict(self.preflight)
        if self.step_seconds is not None:
            out["stepSeconds"] = self.step_seconds
        if self.measurement_inputs is not None:
            out["measurementInputs"] = dict(self.measurement_inputs)
        if self.rto_phases is not None:
            out["rtoPhases"] = self.rto_phases.to_json()
        if self.crash is not None:
            out["crash"] = self.crash.to_json()
        if self.report is not None:
            out["report"] = self.report
        if self.journal is not None:
            out["journal"] = self.journal.to_json()
        if self.inputs is not None:
            out["inputs"] = {role: f.to_json() for role, f in self.inputs.items()}
        if self.mode is not None:  # recorded since step recipes, together
            out["mode"] = self.mode.value
            out["captured"] = dict(self.captured)
            out["timings"] = [_timing_json(t) for t in self.timings]
            if self.mode is RunMode.TEST_FAILOVER:
                out["testFailover"] = [n.to_json() for n in self.test_failover]
        if self.exercise is not None or self.exercise_recorded:
            out["exercise"] = None if self.exercise is None else self.exercise.to_json()
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Run:
        """The run in `data` (a parsed run.json of any version); JournalError if it is not one."""
        found = shape_problem(data)
        if found:
            raise JournalError(found)
        try:
            return _build(data)
        except (KeyError, TypeError, ValueError, AttributeError, AssertionError) as e:
            raise JournalError(f"{_field_of(e)}") from None


class _Fields:
    """A run.json object read field by field: a field that does not build is a ValueError
    naming it."""

    def __init__(self, d: Mapping[str, Any]) -> None:
        self.d = d

    def part(self, key: str, build: Any) -> Any:
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError, AssertionError) as e:
            raise ValueError(f"{key}: {_describe(e)}") from None

    def items(self, key: str) -> list[Any]:
        return list(self.d.get(key) or [])

    def mapping(self, key: str) -> list[tuple[Any, Any]]:
        return list((self.d.get(key) or {}).items())


def _build(d: Mapping[str, Any]) -> Run:
    f = _Fields(d)
    return Run(
        **_identity(f),
        **_entries(f),
        **_outcome(f),
        extra={k: v for k, v in d.items() if k not in _KNOWN},
    )


def _identity(f: _Fields) -> dict[str, Any]:
    """Which run it is: ids, who and where, status, times, targets and objectives."""
    d, part = f.d, f.part
    step = d.get("stepSeconds")
    return dict(
        schema_version=int(d.get("schemaVersion") or 1),
        run_id=d["runId"],
        scenario=Ref.from_json(d["scenario"]),
        drill=part("drill", lambda: Ref.from_json(d.get("drill") or {"name": ""})),
        operator=str(d.get("operator") or ""),
        status=part("status", lambda: Status(d.get("status") or "running")),
        reason=str(d.get("reason") or ""),
        started_at=parse_time(d.get("startedAt")),
        finished_at=parse_time(d.get("finishedAt")),
        pid=part("pid", lambda: None if d.get("pid") is None else int(d["pid"])),
        process_start=part("processStart", lambda: _maybe(int, d.get("processStart"))),
        host=str(d.get("host") or ""),
        preflight=part("preflight", lambda: _maybe(dict, d.get("preflight"))),
        runner_version=str((d.get("runner") or {}).get("version") or ""),
        targets={str(k): str(v) for k, v in (d.get("targets") or {}).items()},
        objectives=dict(d.get("objectives") or {}),
        step_seconds=part("stepSeconds", lambda: None if step is None else float(step)),
    )


def _entries(f: _Fields) -> dict[str, Any]:
    """What the run did: phases, faults, steps, steady-state gates, guardrails, timeline."""
    d, part, items = f.d, f.part, f.items
    return dict(
        phases=part("phases", lambda: tuple(map(PhaseEntry.from_json, items("phases")))),
        faults=part("faults", lambda: tuple(map(FaultEntry.from_json, items("faults")))),
        steps=part("steps", lambda: tuple(map(StepEntry.from_json, items("steps")))),
        steady_state=part(
            "steadyState",
            lambda: {str(k): SteadyStateGate.from_json(g) for k, g in f.mapping("steadyState")},
        ),
        guardrails=part(
            "guardrails",
            lambda: tuple(GuardrailBreach.from_json(g) for g in d.get("guardrails") or []),
        ),
        timeline=part("timeline", lambda: Timeline.from_json(d.get("timeline") or {})),
    )


def _outcome(f: _Fields) -> dict[str, Any]:
    """What the run found and kept: measurements and their inputs, the observed truth, the
    crash, the journal head, input files, captured values, timings and the exercise."""
    d, part, items = f.d, f.part, f.items
    observed, crash = d.get("observed"), d.get("crash")
    return dict(
        measurements=part(
            "measurements", lambda: Measurements.from_json(d.get("measurements") or {})
        ),
        measurement_inputs=d.get("measurementInputs"),
        observed=part("observed", lambda: _maybe(Observed.from_json, observed)),
        rto_phases=part("rtoPhases", lambda: _maybe(RtoPhases.from_json, d.get("rtoPhases"))),
        crash=part("crash", lambda: None if crash is None else Crash.from_json(crash)),
        report=None if d.get("report") is None else str(d["report"]),
        journal=part("journal", lambda: _maybe(JournalHead.from_json, d.get("journal"))),
        inputs=part("inputs", lambda: _maybe(_inputs, d.get("inputs"))),
        mode=part("mode", lambda: _maybe(RunMode, d.get("mode"))),
        captured=part("captured", lambda: {str(k): str(v) for k, v in f.mapping("captured")}),
        timings=part("timings", lambda: tuple(map(_timing, items("timings")))),
        test_failover=part(
            "testFailover", lambda: tuple(map(TestFailoverNote.from_json, items("testFailover")))
        ),
        exercise=part("exercise", lambda: _maybe(ExerciseMetadata.from_json, d.get("exercise"))),
        exercise_recorded="exercise" in d,
    )


def _inputs(d: Mapping[str, Any]) -> dict[str, InputFile]:
    return {str(role): InputFile.from_json(f) for role, f in d.items()}


def _timing_json(t: SpanResult) -> JSON:
    return {"name": t.name, **t.to_json()}


def _timing(d: Mapping[str, Any]) -> SpanResult:
    return SpanResult.from_json(dict(d), name=str(d["name"]))


def _maybe(build: Any, value: Any) -> Any:
    return None if value is None else build(value)


def _describe(e: Exception) -> str:
    if isinstance(e, KeyError):
        return f"{e.args[0]} is missing"
    return str(e) or type(e).__name__


def _field_of(e: Exception) -> str:
    return _describe(e)


def shape_problem(data: Any) -> str | None:
    """Why `data` is not a run record at all (None when its shape is one): the checks that
    name the field, before the typed reading."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if not isinstance(data.get("runId"), str):
        return "runId is not text"
    scenario = data.get("scenario")
    if not isinstance(scenario, dict) or not isinstance(scenario.get("name"), str):
        return "scenario.name is not text"
    for key in ("status", "reason", "startedAt", "finishedAt", "host", "operator", "report"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"{key} is not text"
    for key in ("startedAt", "finishedAt"):
        if data.get(key):
            try:
                datetime.fromisoformat(data[key])
            except ValueError:
                return f"{key} is not a time"
    for key in (
        "measurements", "steadyState", "timeline", "targets", "drill", "runner", "captured",
        "exercise",
    ):  # fmt: skip
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"{key} is not an object"
    for key, m in (data.get("measurements") or {}).items():
        if m is not None and not isinstance(m, dict):
            return f"measurements.{key} is not an object"
    for key in ("phases", "faults", "steps", "guardrails", "timings", "testFailover"):
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return f"{key} is not a list of objects"
    return None
