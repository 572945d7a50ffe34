"""`drillctl history`: runs of a scenario over time, and the regression rules."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.cli.main import main
from runner.journal.run import Run
from runner.reports import history
from runner.reports.history import Rules, Value, judge
from tests.reports.conftest import RUNS, fixture_dir, load_run
from tests.reports.htmlcheck import parse, unexpected


def typed(runs: list[dict[str, Any]]) -> list[Run]:
    """The records as the journal reads them."""
    return [Run.from_json(r) for r in runs]


def _v(seconds: float | None, uncertainty: float = 1.0) -> Value:
    return Value(seconds, uncertainty, 30.0, "met" if seconds is not None else "inconclusive")


def _rules(values: list[float], uncertainty: float = 1.0) -> list[str]:
    return [rule for rule, _ in judge([_v(s, uncertainty) for s in values], Rules())]


def test_above_median_needs_more_than_uncertainty_and_margin() -> None:
    # median of the previous runs 4; uncertainty 1; margin max(1, 0.4) = 1: flag above 6
    assert _rules([4, 4, 5, 4, 6]) == []
    assert _rules([4, 4, 5, 4, 6.1]) == ["above-median"]
    # a margin of 10 % of a large median
    assert _rules([100, 100, 100, 110.9]) == []
    assert _rules([100, 100, 100, 111.1]) == ["above-median"]
    # not enough earlier runs to judge
    assert _rules([3, 4, 60]) == ["rising"]  # but rising: 3 → 4 → 60
    assert _rules([4, 60]) == []


def test_above_median_looks_at_the_last_window_of_runs_only() -> None:
    slow_past = [50.0] * 5 + [4.0] * 10
    assert _rules([*slow_past, 10.0]) == ["above-median"]


def test_rising_needs_each_run_to_rise_and_a_significant_total() -> None:
    assert _rules([4, 5, 6.5]) == []  # 2.5s in all is within ±1 + ±1 + 1
    assert _rules([4, 5, 7.1]) == ["rising"]
    assert _rules([4, 7, 7, 9]) == []  # not rising in each run
    assert _rules([4, 5, 7.1], uncertainty=2.0) == []


def test_inconclusive_runs_are_listed_but_not_judged() -> None:
    base = load_run("passed")
    runs = []
    start = datetime(2026, 11, 1, tzinfo=datetime.now().astimezone().tzinfo)
    for i, seconds in enumerate([4.0, 4.0, None, 4.0, 9.0, None]):
        run = copy.deepcopy(base)
        run["runId"] = f"synthetic-{i}"
        run["startedAt"] = (start + timedelta(hours=i)).isoformat()
        run["measurements"]["rto"]["seconds"] = seconds
        if seconds is None:
            run["measurements"]["rto"]["status"] = "inconclusive"
            run["status"] = "inconclusive"
        runs.append(run)
    (h,) = history.build(typed(runs))
    assert [r.run_id for r in h.rows] == [f"synthetic-{i}" for i in range(6)]
    assert h.rows[5].values["rto"].flags == ()
    assert h.rows[4].values["rto"].flags == ("above-median",)  # 9 > 4 + 1 + 1
    assert [(g.metric, g.rule, g.run_id) for g in h.regressions] == [
        ("rto", "above-median", "synthetic-4")
    ]


def test_history_of_the_recorded_runs() -> None:
    runs = [load_run(s) for s in RUNS]
    hs = history.build(typed(runs))
    assert [h.scenario for h in hs] == ["lab-region-failover", "lab-replication-lag-breach"]
    region, lag = hs
    assert [r.status for r in region.rows] == ["aborted", "passed", "inconclusive"]
    assert region.rows[0].values == {}
    assert region.rows[2].values["rto"].seconds is None
    assert region.rows[2].values["rpo"].seconds == pytest.approx(0.1, abs=0.01)
    assert lag.rows[0].values["rpo"].status == "missed"
    assert all(not h.regressions for h in hs)
    text = history.render_text(hs)
    assert "lab-region-failover: 3 runs; RTO objective <= 30s, RPO objective <= 5s" in text
    assert "6.1s ±1.0s MISSED" in text
    assert history.build(typed(runs), scenario="nope") == []
    (only,) = history.build(typed(runs), scenario="lab-region-failover", last=2)
    assert [r.status for r in only.rows] == ["passed", "inconclusive"]


def _results_with_trend(results: Path, rtos: list[float]) -> list[str]:
    """The recorded runs plus synthetic copies of the passed run with the given RTOs (the
    measurement is edited; the rest is the real record), one an hour after it."""
    for status in RUNS:
        shutil.copytree(fixture_dir(status), results / RUNS[status])
    base = load_run("passed")
    start = datetime.fromisoformat(base["startedAt"])
    ids = []
    for i, seconds in enumerate(rtos, start=1):
        run: dict[str, Any] = copy.deepcopy(base)
        run["runId"] = f"lab-region-failover-synthetic-{i:02d}"
        run["startedAt"] = (start + timedelta(hours=i)).isoformat()
        run["measurements"]["rto"]["seconds"] = seconds
        folder = results / run["runId"]
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps(run))
        ids.append(run["runId"])
    return ids


def test_cli_flags_a_regression_in_every_format(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _results_with_trend(results, [4.0, 4.0, 5.0, 9.0])
    args = ["history", "--results", str(results), "--scenario", "lab-region-failover"]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "REGRESSION: RTO 9s is above the median 4s of the previous 4 runs" in text
    assert "REGRESSION: RTO rose in each of the last 3 measured runs (4s → 5s → 9s)" in text
    assert "lab-replication-lag-breach" not in text

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--fail-on-regression"])
    assert exit_.value.code == 1
    capsys.readouterr()

    with pytest.raises(SystemExit):
        main([*args, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    (scenario,) = data["scenarios"]
    assert [r["runId"] for r in scenario["runs"]][-4:] == ids
    assert scenario["runs"][-1]["rto"]["regression"] == ["above-median", "rising"]
    assert {(g["rule"], g["runId"]) for g in scenario["regressions"]} == {
        ("above-median", ids[-1]),
        ("rising", ids[-1]),
    }

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--format", "html"])
    assert capsys.readouterr().out.strip() == f"wrote {results / 'history.html'}"
    page = parse((results / "history.html").read_text())
    assert unexpected(page) == []
    classes = [v for _, k, v in page.attrs if k == "class"]
    assert "chart trend trend-rto" in classes and "chart trend trend-rpo" in classes
    assert classes.count("regression") == 1  # the ring on the latest RTO point
    assert "Regression: RTO 9s is above the median" in page.text


def test_cli_last_and_unknown_scenario(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _results_with_trend(results, [4.0, 4.0, 5.0, 9.0])
    with pytest.raises(SystemExit):
        main(["history", "--results", str(results), "--last", "2", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert [len(s["runs"]) for s in data["scenarios"]] == [2, 1]
    # judged on the runs kept: too few for either rule
    assert data["scenarios"][0]["regressions"] == []
    with pytest.raises(SystemExit) as exit_:
        main(["history", "--results", str(results), "--scenario", "nope"])
    assert exit_.value.code == 2
    assert "no run of scenario 'nope'" in capsys.readouterr().err


def test_history_html_escapes_scenario_names(
    results: Path, copy_run: Callable[[str], Path]
) -> None:
    folder = copy_run("failed")
    run = json.loads((folder / "run.json").read_text())
    run["scenario"]["name"] = "<script>alert(1)</script>"
    run["reason"] = '"><svg onload=alert(1)>'
    (folder / "run.json").write_text(json.dumps(run))
    from runner.reports import history_html

    page = parse(history_html.render(history.build(typed([run])), source="<b>x</b>"))
    assert unexpected(page) == [] and "script" not in page.tags
    assert "<script>alert(1)</script>" in page.text and "<b>x</b>" in page.text
