"""The journal reads every run.json format drill-runner has ever written, and writes each
back unchanged (tests/journal/formats/README.md says where each one comes from)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from runner.journal.entries import LegacyMeasurement, PhaseName
from runner.journal.framing import ExerciseMetadata, ExerciseScope, RunMode, TestFailoverNote
from runner.journal.run import JournalError, Run
from runner.journal.status import Status
from runner.measure.results import Bounds, RpoResult, RtoOutcome, RtoResult
from runner.measure.results import Status as Judged
from runner.measure.spans import SpanResult

TESTS = Path(__file__).resolve().parents[1]
RECORDS = sorted(
    [*TESTS.glob("journal/formats/*/run.json"), *TESTS.glob("reports/fixtures/*/run.json")]
)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


DERIVED = ("seconds", "uncertaintySeconds")
"""A v2 measurement's midpoint and half-width, recomputed from its stored (rounded) bounds:
equal to the written ones within the rounding (1 ms)."""


def assert_same(written: dict[str, Any], read_back: dict[str, Any]) -> None:
    a, b = json.loads(json.dumps(written)), json.loads(json.dumps(read_back))
    for key in ("rto", "rpo"):
        m, n = a["measurements"].get(key), b["measurements"].get(key)
        if m is None or "lowerSeconds" not in m:
            continue
        for derived in DERIVED:
            x, y = m.pop(derived), n.pop(derived)
            assert (x is None and y is None) or x == pytest.approx(y, abs=0.0011), (key, derived)
    assert a == b


def test_there_is_a_record_of_every_format() -> None:
    names = [p.parent.name for p in RECORDS]
    assert sum(n.startswith("v2-lab-") for n in names) == 2
    assert sum(n.startswith("v2-crashed-") for n in names) == 1
    assert sum(n.startswith("lab-") for n in names) == 4  # measurement v1
    assert sum(n.startswith("v3-recipes-") for n in names) == 3  # mode, captured, ...


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.parent.name)
def test_every_record_format_reads_and_writes_back_unchanged(path: Path) -> None:
    data = _load(path)
    run = Run.from_json(data)
    assert_same(data, run.to_json())
    assert Run.from_json(run.to_json()).to_json() == run.to_json()
    assert run.run_id == data["runId"] and run.status == Status(data["status"])
    assert [p.name for p in run.phases] == [PhaseName(p["name"]) for p in data["phases"]]


V3 = [p for p in RECORDS if p.parent.name.startswith("v3-")]


@pytest.mark.parametrize("path", V3, ids=lambda p: p.parent.name)
def test_a_record_of_this_format_is_written_back_byte_for_byte(path: Path) -> None:
    text = path.read_text()
    run = Run.from_json(json.loads(text))
    assert json.dumps(run.to_json(), indent=2, default=str) + "\n" == text


def _v3(kind: str) -> Run:
    (path,) = [p for p in V3 if p.parent.name.startswith(f"v3-recipes-{kind}-")]
    return Run.from_json(_load(path))


def test_the_mode_captured_values_timings_and_exercise_are_typed() -> None:
    run = _v3("drill")
    assert run.mode is RunMode.DRILL and run.test_failover == ()
    assert run.captured["backup"] == "nightly-20250131"
    assert run.captured["restoreDone"] == "2025-01-31T09:29:59.5Z"
    (timing,) = run.timings
    assert isinstance(timing, SpanResult) and timing.name == "restore step"
    assert timing.bounds is not None and timing.bounds.lower == pytest.approx(1.999)
    assert timing.status is Judged.NO_OBJECTIVE
    assert run.exercise == ExerciseMetadata(
        id="DR-2025-01-31-restore-drill",
        scope=ExerciseScope(systems=("orders", "payments"), tier="1"),
        owners=("sre-oncall",),
        controls=("DORA-RTS-25", "ISO22301-8.5"),
    )
    assert run.extra == {}  # nothing of this format is left untyped


def test_a_test_failover_record_says_what_it_did_instead() -> None:
    run = _v3("test-failover")
    assert run.mode is RunMode.TEST_FAILOVER and run.timings == ()
    assert [(n.phase, n.step, n.what) for n in run.test_failover] == [
        ("inject", "lose-primary", "not injected"),
        ("failover", "restore", "skipped"),
        ("failback", "tidy up", "skipped"),
        ("verify", "timing 'restore step'", "skipped"),
    ]
    assert run.exercise is None and run.to_json()["exercise"] is None  # none declared
    assert run.extra == {}


def test_records_from_before_modes_and_exercises_have_none() -> None:
    before = _v3("before-exercise")
    assert before.mode is RunMode.DRILL and before.exercise is None
    assert "exercise" not in before.to_json()  # not recorded then: not written back
    (v2,) = [p for p in RECORDS if "v2-lab-replication-lag" in str(p)]
    old = Run.from_json(_load(v2))
    assert (old.mode, old.captured, old.timings, old.test_failover, old.exercise) == (
        None, {}, (), (), None,
    )  # fmt: skip
    assert not {"mode", "captured", "timings", "testFailover", "exercise"} & set(old.to_json())


def test_a_typed_run_round_trips_every_new_field() -> None:
    span = SpanResult(
        name="cutover", bounds=Bounds(lower=1.5, upper=None), status=Judged.INCONCLUSIVE,
        explanation="not recovered", start="faultStart = x", end="captured.done = y",
    )  # fmt: skip
    run = replace(
        _v3("drill"),
        mode=RunMode.TEST_FAILOVER,
        captured={"done": "2025-01-31T09:30:00Z"},
        timings=(span,),
        test_failover=(TestFailoverNote(phase="inject", step="f", what="skipped", reason="r"),),
        exercise=ExerciseMetadata(controls=("SOC2-A1.3",)),
    )
    again = Run.from_json(json.loads(json.dumps(run.to_json())))
    assert again == run


def test_a_v2_record_holds_the_typed_measurements_themselves() -> None:
    (path,) = [p for p in RECORDS if "v2-lab-replication-lag" in str(p)]
    run = Run.from_json(_load(path))
    rto, rpo = run.measurements.rto, run.measurements.rpo
    assert isinstance(rto, RtoResult) and isinstance(rpo, RpoResult)
    assert rto.outcome is RtoOutcome.RECOVERED and rto.status is Judged.MET
    assert rpo.status is Judged.MISSED and rpo.canary is not None
    assert rpo.canary.lost_writes == run.observed.lost_writes if run.observed else False
    assert run.status is Status.FAILED and run.timeline.fault_start is not None


def test_a_v1_record_is_read_as_legacy_and_never_rejudged() -> None:
    (path,) = [p for p in RECORDS if p.parent.name.endswith("100347-5470")]
    run = Run.from_json(_load(path))
    assert isinstance(run.measurements.rpo, LegacyMeasurement)
    assert run.measurements.rpo.status is Judged.MISSED
    assert run.measurements.rpo.canary is not None
    assert run.measurements.rpo.canary.lost_writes == 59


def test_a_crashed_record_keeps_how_it_was_closed() -> None:
    (path,) = [p for p in RECORDS if "v2-crashed" in str(p)]
    run = Run.from_json(_load(path))
    assert run.status is Status.CRASHED and run.crash is not None
    assert run.crash.by == "drill-runner/recovery" and run.crash.locks_released == ("primary",)
    assert [f.removed for f in run.faults] == [False]
    assert run.last_phase is not None and run.last_phase.name is PhaseName.FAILOVER


def test_fields_this_runner_does_not_model_are_kept() -> None:
    data = _load(RECORDS[0])
    data["futureField"] = {"phases": [{"label": "detected"}]}
    data["processStart"] = 12345
    assert_same(data, Run.from_json(data).to_json())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phases": [{"name": "warp", "status": "succeeded", "startedAt": None}]}, "phases: "),
        ({"faults": [{"cluster": "a"}]}, "faults: kind is missing"),
        ({"status": "sideways"}, "status: "),
        ({"measurements": {"rto": {"status": "great"}}}, "measurements: "),
        ({"steps": [{"phase": "failover"}]}, "steps: "),
        ({"timeline": {"faultStart": "noon"}}, "timeline: "),
        ({"rtoPhases": {"phases": [{"label": "detected"}]}}, "rtoPhases: "),
        ({"mode": "rehearsal"}, "mode: "),
        ({"captured": ["x"]}, "captured is not an object"),
        ({"timings": [{"name": "t", "status": "fine"}]}, "timings: "),
        ({"timings": [{"status": "met"}]}, "timings: name is missing"),
        ({"testFailover": [{"phase": "inject"}]}, "testFailover: step is missing"),
        ({"exercise": ["DORA"]}, "exercise is not an object"),
    ],
)
def test_a_record_of_no_known_format_is_refused_naming_the_field(
    change: dict[str, Any], message: str
) -> None:
    data = {**_load(RECORDS[0]), **change}
    with pytest.raises(JournalError) as e:
        Run.from_json(data)
    assert str(e.value).startswith(message)


def test_the_rto_phases_and_write_latency_are_typed_and_round_trip() -> None:
    from runner.breakdown import GroundTruth, LatencyComparison, LatencyStats, rto_phases

    t0 = 1767225600.0
    phases = rto_phases(
        fault_start=t0,
        detected=(t0 - 0.4, t0 + 0.6),
        failover_done=t0 + 2.1,
        dns_wait={"notConvergedAt": None, "convergedAt": None, "ttlSeconds": 5},
        healthy=(t0 + 3.5, t0 + 6.5),
        observed=GroundTruth(rto_seconds=4.9, first_failure_seen=t0 + 0.05),
    )
    latency = LatencyComparison(
        start=t0 - 30, end=t0, sync=LatencyStats.of([0.01, 0.02]), async_=LatencyStats.of([0.001])
    )
    data = _load(RECORDS[0])
    data["rtoPhases"] = phases.to_json()
    data["observed"] = {**(data.get("observed") or {}), "writeLatency": latency.to_json()}
    run = Run.from_json(data)
    assert run.rto_phases is not None
    detected = run.rto_phases.phase("detected")
    assert detected is not None and detected.measured is not None
    assert detected.measured.lower == pytest.approx(t0 - 0.4, abs=0.001)
    assert detected.observed == pytest.approx(t0 + 0.05, abs=0.001)
    assert run.observed is not None and run.observed.write_latency is not None
    assert run.observed.write_latency.penalty_p50 == pytest.approx(latency.penalty_p50)
    assert_same(data, run.to_json())
    data["observed"]["writeLatency"] = {"start": "then"}  # unreadable: informs nothing
    again = Run.from_json(data)
    assert again.observed is not None and again.observed.write_latency is None


def test_the_summary_shows_the_timings_and_what_a_test_failover_did() -> None:
    from runner.reports.summary import render_text

    drill = render_text(_v3("drill"))
    assert "  timings:\n    restore step: 2.0s (restore step 2s ± 0.001s" in drill
    assert "test failover" not in drill
    test = render_text(_v3("test-failover"))
    assert (
        "  test failover (what it did instead of the drill):\n"
        "    not injected: lose-primary (inject): a test failover never takes production down\n"
    ) in test
    assert "timings:" not in test


def test_the_input_files_are_typed_and_written_back_as_recorded() -> None:
    data = _load(V3[0])
    data["inputs"] = {
        "scenario": {
            "path": "/drills/s.yaml", "model": "input-scenario.json", "sha256": "ab" * 32,
            "redacted": False, "asRun": True, "file": "input-scenario.yaml",
        },
        "drill": {"path": "/drills/d.yaml", "error": "not read: Permission denied (EACCES)"},
    }  # fmt: skip
    run = Run.from_json(data)
    assert run.inputs is not None
    scenario, drill = run.inputs["scenario"], run.inputs["drill"]
    assert (scenario.file, scenario.model, scenario.as_run, scenario.redacted) == (
        "input-scenario.yaml", "input-scenario.json", True, False,
    )  # fmt: skip
    assert drill.error == "not read: Permission denied (EACCES)" and drill.file is None
    assert json.dumps(run.to_json()["inputs"]) == json.dumps(data["inputs"])
