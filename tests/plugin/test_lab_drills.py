"""Real drills through pytest against the local lab: a pass, a missed objective, the fixture.

One pytester session runs three drills (about 25 s each): the region failover as is, a
copy whose RTO objective is 1 s (it must fail with the objectives table), and a Python
test that runs the failover through the `drill` fixture with a targets mapping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.infra.lab import Lab

pytestmark = pytest.mark.lab


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
            assert report.observed is not None and report.observed["lostWrites"] <= 10
            assert (report.record_dir / "run.json").is_file()
        """
    )
    lab.wait_warm(15)
    results = project.path / "records"
    result = project.runpytest_subprocess(
        f"--drill={lab.drill}",
        f"--drill-results={results}",
        "--junitxml=junit.xml",
        "-p",
        "no:cacheprovider",
        "-v",
        timeout=600,
    )
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
            "  objective  measured  target  met  uncertainty",
            "  RTO        *<= 1s*NO*±*",
            "  RPO        *",
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
