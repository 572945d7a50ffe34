"""`drillctl report` in every format, from the recorded runs (passed, failed, aborted,
inconclusive), plus escaping of hostile strings."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli.main import cli, main
from runner.journal import files
from runner.journal.events import AuditEvent
from runner.journal.run import Run
from runner.reports import html, markdown
from runner.reports.page import VERDICT_COLOURS
from tests.reports.conftest import RUNS, fixture_dir, load_run
from tests.reports.htmlcheck import parse, unexpected

STATUSES = list(RUNS)
EXIT = {"passed": 0, "failed": 1, "aborted": 3, "inconclusive": 3}


def _folder(folder: Path, run: dict[str, Any], events: list[dict[str, Any]]) -> files.RunFolder:
    """A run folder as the reports get it: the record read through the journal."""
    return files.RunFolder(
        folder, Run.from_json(run), tuple(AuditEvent.from_json(e) for e in events)
    )


def _html(status: str) -> str:
    return html.render(files.load(fixture_dir(status)))


def _md(status: str) -> str:
    return markdown.render(files.load(fixture_dir(status)))


def _row(page_text: str, name: str) -> str:
    """The text of the objectives-table row that starts with `name`."""
    match = re.search(rf"{name}.*", page_text)
    assert match, name
    return match.group(0)


@pytest.mark.parametrize("status", STATUSES)
def test_html_is_self_contained_and_well_formed(status: str) -> None:
    out = _html(status)
    page = parse(out)
    assert unexpected(page) == []
    assert "script" not in page.tags
    # no external asset of any kind: the only URL is the SVG namespace
    urls = re.findall(r"(?:https?:)?//[^\s\"'<>)]+", out)
    assert set(urls) == {"http://www.w3.org/2000/svg"}
    assert "url(" not in out and "@import" not in out and "src=" not in out
    assert page.tags.count("svg") == 1


@pytest.mark.parametrize("status", STATUSES)
def test_html_banner_shows_the_verdict_in_its_colour(status: str) -> None:
    out = _html(status)
    background, _ = VERDICT_COLOURS[status]
    banner = re.search(r'<header class="banner verdict-(\w+)" style="background:(#\w+)', out)
    assert banner and banner.groups() == (status, background)
    run = load_run(status)
    page = parse(out)
    assert f"{status.upper()}: {run['scenario']['name']}" in page.text
    assert run["reason"] in page.text


def test_html_of_a_passed_run() -> None:
    page = parse(_html("passed"))
    text = page.text
    assert "RTO4.0s<= 30syes±1.0ssli-hold" in text
    assert "RPO0.0s<= 5syes±1.0slag+canary" in text
    assert "lost writes (canary)0<= 10yes" in text
    # the chart: one SLI line, one lag line, every marker, phases shaded
    classes = [v for t, k, v in page.attrs if k == "class"]
    assert classes.count("series series-sli") == 1
    assert classes.count("series series-replication") == 1
    for label in ("fault lose-primary", "first failure seen (+1s)", "failover done",
                  "recovered (RTO 4s)", "fault lose-primary removed", "failback done"):  # fmt: skip
        assert label in text
    assert classes.count("phase") == 2 * len(load_run("passed")["phases"])
    assert "objective 5s is above this range" in text  # lag stayed far below the RPO
    # steps with durations and output, faults per cluster, the audit trail
    assert "promote-secondary" in text and "promoted west in" in text
    assert "primary (lab site east)" in text
    assert "lab-region-failover-20261124-100307-2f5d-lose-primary" in text
    events = (fixture_dir("passed") / "events.jsonl").read_text().splitlines()
    assert text.count("drill.start") == 1 and "lock.release" in text
    assert sum(1 for t in page.tags if t == "tr") >= len(events)
    assert "Problems" not in text


def test_html_of_a_failed_run_names_the_missed_objective() -> None:
    page = parse(_html("failed"))
    text = page.text
    assert "RPO6.1s<= 1sNO" in text
    assert "lost writes (canary)59" in text
    assert "objective 1s" in text  # the RPO objective line is drawn in the lag panel
    assert "fault slow-wal-link" in text and "fault lose-primary" in text
    assert "lostWrites = 59" in text  # the lab's ground truth is shown next to it


def test_html_of_an_aborted_run_says_nothing_was_measured() -> None:
    text = parse(_html("aborted")).text
    assert "Nothing was measured in this run." in text
    assert "No measurement series were recorded" in text
    assert "no samples recorded" in text
    assert "steady state before: orders-succeed failed: not enough data" in text
    assert "No fault was created." in text and "No failover or failback step ran." in text


def test_html_of_an_inconclusive_run() -> None:
    page = parse(_html("inconclusive"))
    text = page.text
    assert "RTOunknown<= 30sinconclusive" in text
    assert "the SLI has a gap before it recovered" in text
    assert "recovered (RTO" not in text
    (sli,) = [v for t, k, v in page.attrs if t == "path" and k == "d" and v and "M" in v][:1]
    assert sli.count("M") == 2  # the gap in the SLI is drawn as a gap


def test_html_step_output_is_an_excerpt_of_the_tail() -> None:
    run = load_run("passed")
    run["steps"][0]["output"] = "first line\n" + "x" * 1500 + "\nLAST LINE"
    folder = _folder(fixture_dir("passed"), run, [])
    text = parse(html.render(folder)).text
    assert "LAST LINE" in text and "first line" not in text
    assert "earlier characters in run.json" in text


@pytest.mark.parametrize("status", STATUSES)
def test_markdown_summary(status: str) -> None:
    out = _md(status)
    run = load_run(status)
    first = out.splitlines()[0]
    assert first.startswith("### ") and status.upper() in first
    assert markdown.md(run["scenario"]["name"]) in first
    assert f"`{run['runId']}`" in out
    assert f"Record: `{fixture_dir(status)}`" in out
    assert "**Phases:** preflight" in out
    if status == "aborted":
        assert "Nothing was measured." in out
        assert "**steady-state 0.0s stopped**" in out
    else:
        assert "| objective | measured | target | met | uncertainty |" in out
    if status == "failed":
        assert "| RPO | 6.1s | &lt;= 1s | **NO** | ±1.0s |" in out
        assert "| lost writes | 59 |" in out
    if status == "passed":
        assert "| RTO | 4.0s | &lt;= 30s | yes | ±1.0s |" in out
        assert "**Faults:** primary: lab/cluster-loss lose-primary (removed)" in out
    if status == "inconclusive":
        assert "| RTO | unknown | &lt;= 30s | inconclusive | ±1.0s |" in out


HOSTILE = '<script>alert("x")</script> | **bold** [link](javascript:alert(1)) `tick` & </pre>'


def _hostile_run() -> dict[str, Any]:
    run = load_run("passed")
    run["scenario"]["name"] = HOSTILE
    run["reason"] = HOSTILE
    run["operator"] = HOSTILE
    run["targets"] = {HOSTILE: HOSTILE}
    run["steps"][0]["output"] = f'</code></pre><img src=x onerror="alert(1)">{HOSTILE}'
    run["steps"][0]["error"] = HOSTILE
    run["steps"][0]["status"] = "failed"
    run["faults"][0]["cluster"] = HOSTILE
    run["faults"][0]["fault"] = '"><svg onload=alert(1)>'
    run["steps"][0]["phase"] = HOSTILE
    run["measurements"]["rto"]["explanation"] = HOSTILE
    run["measurementInputs"]["series"]["rto.sli"]["query"] = HOSTILE
    run["steadyState"]["after"]["checks"][0].update(passed=False, reason=HOSTILE, query=HOSTILE)
    return run


def test_html_escapes_hostile_strings(tmp_path: Path) -> None:
    events = [{"time": "2026-11-24T10:03:07+00:00", "actor": HOSTILE, "action": HOSTILE,
               "target": HOSTILE, "details": {"x": HOSTILE}}]  # fmt: skip
    out = html.render(_folder(tmp_path / HOSTILE, _hostile_run(), events))
    page = parse(out)
    assert unexpected(page) == []
    assert "script" not in page.tags and "img" not in page.tags
    assert page.tags.count("svg") == 1
    assert "onload" not in {k for _, k, _ in page.attrs}
    # the hostile text is shown as text, exactly
    assert page.text.count(HOSTILE) >= 10
    assert '</code></pre><img src=x onerror="alert(1)">' in page.text
    assert '"><svg onload=alert(1)>' in page.text


def test_markdown_escapes_hostile_strings(tmp_path: Path) -> None:
    out = markdown.render(_folder(tmp_path / "x`y", _hostile_run(), []))
    assert "<" not in out and "&lt;script&gt;" in out
    assert "[link]" not in out and "\\[link\\]" in out
    assert "**bold**" not in out
    for line in out.splitlines():
        if line.startswith("| "):  # escaped pipes do not add table cells
            assert len(re.findall(r"(?<!\\)\|", line)) == 6, line
    assert out.rstrip().endswith("Record: " + markdown.md(tmp_path / "x`y"))  # no code span


def test_text_and_json(copy_run: Callable[[str], Path], results: Path) -> None:
    copy_run("failed")
    runner = CliRunner()
    res = runner.invoke(cli, ["report", RUNS["failed"], "--results", str(results)])
    assert res.exit_code == 0, res.output  # click's own exit; main() maps the return value
    assert res.output.startswith(f"FAILED: lab-replication-lag-breach (run {RUNS['failed']})")
    assert "RPO        6.1s      <= 1s   NO" in res.output
    res = runner.invoke(
        cli, ["report", RUNS["failed"], "--results", str(results), "--format", "json"]
    )
    assert json.loads(res.output) == load_run("failed")


@pytest.mark.parametrize("status", STATUSES)
def test_cli_exit_code_is_the_verdict(status: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(fixture_dir(status)), "--format", "md", "--out", "-"])
    assert exit_.value.code == EXIT[status]
    assert capsys.readouterr().out.startswith("### ")


def test_cli_writes_html_and_md_next_to_the_record(
    copy_run: Callable[[str], Path], results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_run("passed")
    for fmt, name in (("html", "report.html"), ("md", "report.md")):
        with pytest.raises(SystemExit) as exit_:
            main(["report", RUNS["passed"], "--results", str(results), "--format", fmt])
        assert exit_.value.code == 0
        assert capsys.readouterr().out.strip() == f"wrote {folder / name}"
    assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    md = (folder / "report.md").read_text()
    assert f"full report: `{folder / 'report.html'}`" in md  # links the HTML once it exists
    assert not list(folder.glob("*.tmp"))


def test_cli_out_file_and_unknown_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "r.html"
    with pytest.raises(SystemExit):
        main(["report", str(fixture_dir("aborted")), "--format", "html", "--out", str(out)])
    assert "ABORTED" in out.read_text()
    with pytest.raises(SystemExit) as exit_:
        main(["report", "no-such-run", "--results", str(tmp_path)])
    assert exit_.value.code == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err


def test_a_partial_record_of_a_crashed_run_still_renders(tmp_path: Path) -> None:
    """A run that died mid-way: still `running`, a phase without an end, a fault in place."""
    run = load_run("passed")
    run.update(status="running", reason="", finishedAt=None)
    run["phases"] = run["phases"][:5]
    run["phases"][-1].update(status="running", finishedAt=None)
    run["faults"][0]["recoveredAt"] = None
    run["timeline"].pop("failbackDone")
    folder = _folder(tmp_path, run, [e.to_json() for e in files.read_events(fixture_dir("passed"))])
    page = parse(html.render(folder))
    assert unexpected(page) == []
    assert "RUNNING: lab-region-failover" in page.text
    assert "NOT REMOVED" in page.text and "failback done" not in page.text
    out = markdown.render(folder)
    assert out.startswith("### • RUNNING: lab-region-failover\n\nRun ")
    assert "**failover - running**" in out
    assert "(**NOT REMOVED**)" in out


def test_a_truncated_audit_trail_is_read_up_to_the_cut(tmp_path: Path) -> None:
    shutil.copytree(fixture_dir("failed"), tmp_path / "run")
    events = tmp_path / "run" / "events.jsonl"
    lines = events.read_text().splitlines()
    events.write_text("\n".join(lines) + '\n{"time": "2026-11-24T10:04')
    assert len(files.load(tmp_path / "run").events) == len(lines)
