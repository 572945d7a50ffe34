"""The series a run read, as its record holds them: every version's form, finite samples in
time order, a damaged part skipped rather than fatal (the oracle reads the JSON itself)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from runner.journal import series
from runner.journal.run import Run

TESTS = Path(__file__).resolve().parents[1]
V1 = TESTS / "reports/fixtures/lab-region-failover-20261124-100307-2f5d/run.json"
V2 = TESTS / "journal/formats/v2-lab-region-failover-20261129-233835-595f/run.json"


def _expected(stored: dict[str, Any]) -> list[list[tuple[float, float]]]:
    out = []
    for item in stored["result"]:
        points = [
            (float(t), float(v))
            for t, v in item["samples"]
            if math.isfinite(float(t)) and math.isfinite(float(v))
        ]
        out.append(sorted(points))
    return out


@pytest.mark.parametrize("path", [V1, V2], ids=["measurement-v1", "measurement-v2"])
def test_every_series_of_a_recorded_run_reads_back(path: Path) -> None:
    data = json.loads(path.read_text())
    run = Run.from_json(data)
    for role, stored in data["measurementInputs"]["series"].items():
        got = series.read(run.measurement_inputs, role)
        assert got.query == stored["query"]
        assert [list(s.samples) for s in got.series] == _expected(stored)
    assert series.step_seconds(run.measurement_inputs) == data["measurementInputs"]["stepSeconds"]


def test_damaged_parts_are_skipped_and_failback_reads_its_own() -> None:
    inputs = {
        "stepSeconds": "fast",
        "series": {"rto.sli": {"query": "up", "result": [
            "not a series",
            {"labels": {"site": "east"}, "samples": [[3, 1], [1, "NaN"], [2, 0], [4], "x"]},
        ]}},
        "failback": {"series": {"rto.sli": {"series": [{"samples": [[9, 1]]}]}}},
    }  # fmt: skip
    (line,) = series.read(inputs, "rto.sli").series
    assert line.labels == {"site": "east"} and line.samples == ((2.0, 0.0), (3.0, 1.0))
    back = series.read(inputs, "rto.sli", failback=True)
    assert back.query == "rto.sli" and back.series[0].samples == ((9.0, 1.0),)
    assert series.read(inputs, "rpo.lag").series == ()
    assert series.read(None, "rto.sli").series == () and series.step_seconds(inputs) is None
