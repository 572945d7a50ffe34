"""Real drills through pytest against the local lab: a pass, a missed objective, the fixture.

One pytester session runs three drills (about 25 s each): the region failover as is, a
copy whose RTO objective is 1 s (it must fail with the objectives table), and a Python
test that runs the failover through the `drill` fixture with a targets mapping.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.infra.lab import Lab

pytestmark = pytest.mark.lab


def run_drills(project: pytest.Pytester, lab: Lab, results: Path) -> pytest.RunResult:
    """Run the project's scenario items against the lab, with records and JUnit XML."""
    return project.runpytest_subprocess(
        f"--drill={lab.drill}",
        f"--drill-results={results}",
        "--junitxml=junit.xml",
        "-p",
        "no:cacheprovider",
        "-v",
        timeout=600,
    )


def test_drills_pass_fail_and_report_through_pytest(project: pytest.Pytester, lab: Lab) -> None:
    folder = project.path / "scenarios" / "lab"
    (folder / "network-partition.yaml").unlink()
    text = (folder / "region-failover.yaml").read_text()
    strict = text.replace("name: lab-region-failover", "name: lab-region-failover-strict")
    (folder / "region-failover-strict.yaml").write_text(strict.replace("rto: 30s", "rto: 1s"))
    project.makepyfile(
        test_fixture=f"""
        from datetime import timedelta

        def test_failover_through_the_fixture(drill):
            lab = {{"site": "east", "stateDir": "{lab.state_dir}"}}
            report = drill.run(
                "scenarios/lab/region-failover.yaml",
                targets={{"primary": {{"lab": lab}},
                         "secondary": {{"lab": {{**lab, "site": "west"}}}}}},
                overrides={{"objectives": {{"rto": "10m"}}}},
            )
            assert report.passed, report.summary()
            assert report.rto <= timedelta(minutes=5)
            assert report.rto_objective == timedelta(minutes=10)
            assert report.rpo is not None
            assert report.phases["failover"].status == "succeeded"
            assert all(f.removed for f in report.faults)
            assert report.observed is not None and report.observed.lost_writes is not None
            assert report.observed.lost_writes <= 10
            assert (report.record_dir / "run.json").is_file()
        """
    )
    results = project.path / "records"
    result = run_drills(project, lab, results)
    out = result.stdout.str()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*region-failover-strict.yaml::lab-region-failover-strict FAILED*",
            "*region-failover.yaml::lab-region-failover PASSED*",
            "*test_fixture.py::test_failover_through_the_fixture PASSED*",
        ]
    )
    # The missed objective reads as the run's summary, not as a traceback.
    result.stdout.fnmatch_lines(
        [
            "drill failed: RTO: *",
            "FAILED: lab-region-failover-strict (run *",
            "  objective *measured *target *met *uncertainty",
            "  RTO *<= 1s *NO *±*",
            "  RPO *",
            "  Failback RTO *<= 60s *yes *",
            "  phases:",
            "    preflight*succeeded*",
            "  faults:",
            "    primary: *-lose-primary (removed)",
            f"  record: {results}/lab-region-failover-strict-*",
        ]
    )
    assert "Traceback" not in out
    assert len(list(results.glob("*/run.json"))) == 3

    suite = ET.parse(project.path / "junit.xml").getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    passed = {p.get("name"): p.get("value") for p in cases["lab-region-failover"].iter("property")}
    assert passed["drill_status"] == "passed"
    assert float(passed["rto_seconds"]) <= 30
    assert passed["rto_objective_seconds"] == "30"
    assert "rpo_seconds" in passed
    failed = {
        p.get("name"): p.get("value") for p in cases["lab-region-failover-strict"].iter("property")
    }
    assert failed["drill_status"] == "failed" and failed["rto_status"] == "missed"
    assert float(failed["rto_seconds"]) > 1
    fixture = {
        p.get("name"): p.get("value")
        for p in cases["test_failover_through_the_fixture"].iter("property")
    }
    assert fixture["rto_objective_seconds"] == "600"


def test_aborted_and_inconclusive_drills_are_reported_as_such(
    project: pytest.Pytester, lab: Lab
) -> None:
    """One session, two copies of the region failover that must not pass.

    aborted: its steady-state check can never hold (the probe success ratio is at most 1),
    so once its gate has waited `timeouts.steadyState` (3 s) the engine stops before
    injecting anything: an error labelled ABORTED.
    inconclusive: its RTO SLI has no data and the recovery window is 15 s, so the verify
    phase gives up: a failure labelled INCONCLUSIVE, after which failback still runs.
    """
    folder = project.path / "scenarios" / "lab"
    (folder / "network-partition.yaml").unlink()
    original = folder / "region-failover.yaml"
    text = original.read_text()
    original.unlink()
    aborted = text.replace("name: lab-region-failover", "name: lab-region-failover-aborted")
    assert 'expect: ">= 0.9"' in aborted
    aborted = aborted.replace('expect: ">= 0.9"', 'expect: ">= 2"')
    assert "\n  timeouts:\n" in aborted
    aborted = aborted.replace("\n  timeouts:\n", "\n  timeouts:\n    steadyState: 3s\n")
    (folder / "region-failover-aborted.yaml").write_text(aborted)
    unsure = text.replace("name: lab-region-failover", "name: lab-region-failover-unsure")
    assert "sli: min(lab_probe_success)" in unsure and "recovery: 2m" in unsure
    unsure = unsure.replace("sli: min(lab_probe_success)", "sli: min(lab_no_such_metric)")
    (folder / "region-failover-unsure.yaml").write_text(
        unsure.replace("recovery: 2m", "recovery: 15s")
    )
    results = project.path / "records"
    result = run_drills(project, lab, results)
    out = result.stdout.str()
    result.assert_outcomes(failed=1, errors=1)
    assert "passed" not in out.splitlines()[-1]
    result.stdout.fnmatch_lines(
        [
            "*region-failover-aborted.yaml::lab-region-failover-aborted ABORTED*",
            "*region-failover-unsure.yaml::lab-region-failover-unsure INCONCLUSIVE*",
        ]
    )
    # The abort reads as the run's summary: the verdict, the failed gate, no faults.
    result.stdout.fnmatch_lines(
        [
            "*ERROR*lab-region-failover-aborted*",
            "drill aborted: steady state did not hold before injection; nothing injected",
            "",
            "ABORTED: lab-region-failover-aborted (run *",
            "  steady state before: orders-succeed failed: *",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "drill inconclusive: RTO: *",
            "INCONCLUSIVE: lab-region-failover-unsure (run *",
            "  RTO: the SLI query returned no data; Failback RTO: the SLI query returned no data",
            "",
            "  objective *measured *target *met *uncertainty",
            "  RTO *unknown *<= 30s *inconclusive *",
            "  RPO *",
            "  Failback RTO *unknown *<= 60s *inconclusive *",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= short test summary info =*",
            "INCONCLUSIVE *region-failover-unsure.yaml::lab-region-failover-unsure*",
            "ABORTED *region-failover-aborted.yaml::lab-region-failover-aborted*",
            "*= 1 failed, 1 error in *",
        ]
    )
    assert "Traceback" not in out

    (aborted_run,) = results.glob("lab-region-failover-aborted-*/run.json")
    record = json.loads(aborted_run.read_text())
    assert record["status"] == "aborted"
    assert record["faults"] == []
    assert "inject" not in [p["name"] for p in record["phases"]]
    (unsure_run,) = results.glob("lab-region-failover-unsure-*/run.json")
    record = json.loads(unsure_run.read_text())
    assert record["status"] == "inconclusive"
    assert record["measurements"]["rto"]["status"] == "inconclusive"
    assert record["faults"] and all(f["recoveredAt"] for f in record["faults"])
    phases = {p["name"]: p["status"] for p in record["phases"]}
    assert phases["failback"] == "succeeded"

    suite = ET.parse(project.path / "junit.xml").getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    status = {
        name: dict((p.get("name"), p.get("value")) for p in cases[name].iter("property"))
        for name in ("lab-region-failover-aborted", "lab-region-failover-unsure")
    }
    assert status["lab-region-failover-aborted"]["drill_status"] == "aborted"
    assert status["lab-region-failover-unsure"]["drill_status"] == "inconclusive"
    assert status["lab-region-failover-unsure"]["rto_status"] == "inconclusive"

    # Failback ran: east is the primary again and no fault is left.
    status_now = lab.status()
    assert status_now["faults"] == []
    assert status_now["activeSite"] == "east"
    assert status_now["sites"]["east"]["role"] == "primary"
    assert status_now["sites"]["west"]["role"] == "standby"


def test_drillctl_abort_stops_a_drill_run_by_pytest(project: pytest.Pytester, lab: Lab) -> None:
    """`drillctl abort RUN_ID` from another shell reaches a drill the pytest plugin runs,
    as it reaches `drillctl run` and the scheduler: the fault is removed, the run ends
    aborted with the reason given, and pytest reports it as ABORTED."""
    folder = project.path / "scenarios" / "lab"
    for other in ("network-partition.yaml", "replication-lag-breach.yaml"):
        (folder / other).unlink(missing_ok=True)
    results = project.path / "records"
    session = project.popen(
        [sys.executable, "-m", "pytest", f"--drill={lab.drill}", f"--drill-results={results}",
         "-p", "no:cacheprovider", "-v"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        run: dict[str, object] | None = None
        while run is None and time.monotonic() < deadline and session.poll() is None:
            for path in results.glob("*/run.json"):
                data = json.loads(path.read_text() or "{}")
                if any(p.get("name") == "observe" for p in data.get("phases", [])):
                    run = data
            time.sleep(0.2)
        assert run is not None, "the drill never got to its observe phase"
        asked = lab.drillctl("abort", str(run["runId"]), "--results", str(results),
                             "--reason", "stopped from another shell")  # fmt: skip
        assert asked.returncode == 0 and "ended: aborted" in asked.stdout, asked.stderr
        out, _ = session.communicate(timeout=180)
    finally:
        if session.poll() is None:
            session.kill()
    text = out.decode()
    assert "lab-region-failover ABORTED" in text, text
    record = json.loads((results / str(run["runId"]) / "run.json").read_text())
    assert record["status"] == "aborted" and record["reason"] == "stopped from another shell"
    assert record["faults"] and all(f["recoveredAt"] for f in record["faults"])
