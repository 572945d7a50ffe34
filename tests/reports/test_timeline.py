"""What the timeline chart is built from: series, phases and markers read from real records."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest

from runner.journal.run import Run
from runner.reports import svg, timeline
from tests.reports.conftest import load_run


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_markers_of_a_passed_run_follow_the_measurement() -> None:
    run = load_run("passed")
    tl = timeline.build(Run.from_json(run))
    start = _epoch(run["timeline"]["faultStart"])
    assert start is not None and tl.origin == start
    at = {m.key: m.at - start for m in tl.markers}
    rto = run["measurements"]["rto"]
    assert at["fault-injected"] == pytest.approx(0.0, abs=0.01)
    assert at["first-failure"] == pytest.approx(rto["details"]["timeToDetectSeconds"])
    assert at["recovered"] == pytest.approx(rto["seconds"])
    assert at["failover-done"] == pytest.approx(_epoch(run["timeline"]["failoverDone"]) - start)
    assert at["fault-removed"] > at["recovered"]
    assert at["failback-done"] > at["fault-removed"]
    assert [m.at for m in tl.markers] == sorted(m.at for m in tl.markers)


def test_series_phases_and_range_of_a_passed_run() -> None:
    run = load_run("passed")
    tl = timeline.build(Run.from_json(run))
    (sli,) = tl.sli
    (lag,) = tl.lag
    assert sli.label == "lab_probe_success"
    assert len(sli.points) == len(
        run["measurementInputs"]["series"]["rto.sli"]["result"][0]["samples"]
    )
    assert min(v for _, v in sli.points) == 0.0
    assert lag.points[-1][0] <= tl.origin + 0.01  # the lag is read before the fault
    assert [p.name for p in tl.phases] == [p["name"] for p in run["phases"]]
    # the chart covers the lag lookback before the run started and the whole run
    assert tl.start <= lag.points[0][0]
    assert tl.end >= _epoch(run["finishedAt"])


def test_an_inconclusive_rto_has_no_recovered_marker_and_keeps_its_gap() -> None:
    tl = timeline.build(Run.from_json(load_run("inconclusive")))
    keys = {m.key for m in tl.markers}
    assert "recovered" not in keys
    assert {"fault-injected", "first-failure", "failover-done", "failback-done"} <= keys
    (sli,) = tl.sli
    runs = svg.split_at_gaps(list(sli.points), 2 * tl.step + 1e-6)
    assert len(runs) == 2  # the 4 s hole is not bridged


def test_an_aborted_run_has_phases_but_no_series_or_markers() -> None:
    tl = timeline.build(Run.from_json(load_run("aborted")))
    assert not tl.has_series and tl.markers == []
    assert tl.origin_label == "seconds from the start of the run"
    assert [p.status for p in tl.phases][:2] == ["succeeded", "stopped"]


def test_series_accepts_the_documented_key_and_skips_non_finite_values() -> None:
    run = copy.deepcopy(load_run("passed"))
    fetched = run["measurementInputs"]["series"]["rto.sli"]
    fetched["series"] = fetched.pop("result")
    fetched["series"][0]["samples"][1][1] = "NaN"
    fetched["series"][0]["samples"][2][1] = "+Inf"
    (line,) = timeline.series(Run.from_json(run), "rto.sli")
    assert len(line.points) == len(fetched["series"][0]["samples"]) - 2


def test_several_series_are_labelled_by_their_labels() -> None:
    run = copy.deepcopy(load_run("passed"))
    result = run["measurementInputs"]["series"]["rto.sli"]["result"]
    other = copy.deepcopy(result[0])
    other["labels"]["instance"] = "other:9090"
    result.append(other)
    labels = [line.label for line in timeline.series(Run.from_json(run), "rto.sli")]
    assert len(labels) == 2 and 'instance="other:9090"' in labels[1]


def test_ticks_and_axis_bounds_are_round() -> None:
    assert svg.ticks(0, 1, 5) == [0, 0.25, 0.5, 0.75, 1.0]
    assert svg.ticks(-10.5, 25.7, 10) == [-10, -5, 0, 5, 10, 15, 20, 25]
    assert svg.nice_max(6.7, 0.5) == 8
    assert svg.nice_max(0.01, 0.5) == 0.5
    assert svg.fmt(2.0) == "2" and svg.fmt(0.25) == "0.25"
