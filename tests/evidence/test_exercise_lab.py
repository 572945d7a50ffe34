"""Approvals, deficiencies, sign-off and controls on real lab runs, end to end through
`drillctl`: a run that misses its RTO objective opens a deficiency; it gets an owner and a
due date; `history` lists it open; it is closed only by a later passing run of the same
scenario; sign-off is appended; the journal stays one intact chain (checked here from its
definition with hashlib) and no byte of what was there before changes; the report and the
evidence pack show all of it."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.evidence.test_pack import drillctl
from tests.infra.lab import Lab

pytestmark = pytest.mark.lab

CONTROLS = ["DORA-RTS-25", "ISO22301-8.5", "SOC2-A1.3"]


def _chain_ok(folder: Path) -> int:
    """The definition: seq i, prev = SHA-256 of line i-1 (genesis for the first), and
    run.json's journal = {entries, head}. Returns the number of entries."""
    data = (folder / "events.jsonl").read_bytes()
    lines = data.split(b"\n")[:-1]
    run = json.loads((folder / "run.json").read_text())
    prev = hashlib.sha256(f"drill-runner events {run['runId']}".encode()).hexdigest()
    for i, line in enumerate(lines):
        entry = json.loads(line)
        assert entry["seq"] == i and entry["prev"] == prev, f"line {i + 1}"
        prev = hashlib.sha256(line).hexdigest()
    assert run["journal"] == {"entries": len(lines), "head": prev}
    return len(lines)


def _entries(folder: Path, action: str) -> list[dict[str, Any]]:
    lines = (folder / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["action"] == action]


def _scenario(lab: Lab, name: str, rto: str) -> Path:
    """The lab's region failover with an RTO objective, controls, exercise metadata and a
    manual step (pre-approved: an approval in the journal)."""
    text = (lab.work / "scenarios" / "lab" / "region-failover.yaml").read_text()
    text = re.sub(r"(\n  objectives:\n(?:    .*\n)*?)    rto: \S+", rf"\1    rto: {rto}", text)
    assert f"rto: {rto}" in text, text
    text = text.replace(
        "  failover:\n    steps:\n",
        "  failover:\n    steps:\n      - name: page-the-dba\n        action: manual\n"
        "        instructions: tell the DBA on call\n        timeout: 30s\n",
    )
    text += (
        "  exercise:\n    id: DR-{date}-{scenario}\n"
        "    scope: {systems: [orders, orders-db], tier: tier-1}\n"
        "    owners: [dr-team@example.com]\n"
        f"    controls: [{', '.join(CONTROLS)}]\n"
    )
    path = lab.work / "scenarios" / "lab" / name
    path.write_text(text)
    return path


def test_deficiency_to_closure_and_sign_off_on_lab_runs(lab: Lab, tmp_path: Path) -> None:
    strict = _scenario(lab, "region-failover-strict.yaml", "1s")
    normal = _scenario(lab, "region-failover-exercise.yaml", "60s")
    results = tmp_path / "results"

    def run(scenario: Path) -> dict[str, Any]:
        proc = lab.drillctl("run", str(scenario), "--drill", str(lab.drill), "--results",
                            str(results), "--output", "json", "--approve-manual")  # fmt: skip
        record: dict[str, Any] = json.loads(proc.stdout)
        return record

    failed = run(strict)
    assert failed["status"] == "failed", failed["reason"]
    folder = results / failed["runId"]
    assert failed["exercise"] == {
        "id": f"DR-{failed['startedAt'][:10]}-lab-region-failover",
        "scope": {"systems": ["orders", "orders-db"], "tier": "tier-1"},
        "owners": ["dr-team@example.com"],
        "controls": CONTROLS,
    }
    opened = {e["details"]["id"]: e["details"] for e in _entries(folder, "deficiency.opened")}
    assert "missed the objective 1s" in opened["rto-missed"]["description"]
    assert set(opened) <= {"rto-missed", "rpo-inconclusive"}  # nothing else went wrong
    (approval,) = _entries(folder, "approval")
    assert approval["details"]["what"] == "manual-step"
    assert approval["details"]["subject"] == "page-the-dba" and approval["details"]["by"]
    before = (folder / "events.jsonl").read_bytes()
    entries = _chain_ok(folder)

    def evidence(*args: str) -> subprocess.CompletedProcess[str]:
        return drillctl("evidence", *args, "--results", str(results), cwd=tmp_path)

    # ownership; a bad id, a bad date and closing by a run that did not pass are refused
    done = evidence("deficiency", folder.name, "rto-missed", "--owner", "alice", "--due",
                    "2026-12-31", "--as", "bob")  # fmt: skip
    assert done.returncode == 0, done.stderr
    for args, said in (
        (["deficiency", folder.name, "nope", "--owner", "x"], "has no deficiency 'nope'"),
        (["deficiency", folder.name, "rto-missed", "--due", "soon"], "not a date"),
        (["deficiency", folder.name, "rto-missed", "--resolved-by", folder.name], "ended failed"),
    ):
        res = evidence(*args)
        assert res.returncode == 2 and said in res.stderr, (args, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1
    history = drillctl("history", "--results", str(results), cwd=tmp_path)
    assert "open deficiencies of lab-region-failover: 1" in history.stdout, history.stdout
    assert f"{folder.name} rto-missed (owner alice, due 2026-12-31)" in history.stdout

    passed = run(normal)
    assert passed["status"] == "passed", passed["reason"]
    assert _entries(results / passed["runId"], "deficiency.opened") == []
    closed = evidence("deficiency", folder.name, "rto-missed", "--resolved-by", passed["runId"])
    assert closed.returncode == 0, closed.stderr
    again = evidence("deficiency", folder.name, "rto-missed", "--resolved-by", passed["runId"])
    assert again.returncode == 2 and "was closed by run" in again.stderr
    (closure,) = _entries(folder, "deficiency.closed")
    assert closure["details"]["resolvedBy"] == passed["runId"]
    later = json.loads((results / passed["runId"] / "run.json").read_text())
    assert closure["details"]["resolvedByHead"] == later["journal"]["head"]
    history = drillctl("history", "--results", str(results), "--format", "json", cwd=tmp_path)
    (scenario,) = json.loads(history.stdout)["scenarios"]
    assert scenario["openDeficiencies"] == []

    signed = evidence("sign-off", folder.name, "--as", "Dana Ng (DR lead)", "--comment",
                      "RTO gap accepted; fixed by the faster promotion")  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    # appended, never rewritten: what was there is a byte prefix of what is there now
    after = (folder / "events.jsonl").read_bytes()
    assert after.startswith(before)
    assert _chain_ok(folder) == entries + 3
    actions = [json.loads(x)["action"] for x in after[len(before) :].splitlines()]
    assert actions == ["deficiency.assigned", "deficiency.closed", "signoff"]
    report = (folder / "report.html").read_text()
    for shown in ("Dana Ng (DR lead)", "closed by " + passed["runId"], "page-the-dba",
                  *CONTROLS, "alice", "2026-12-31"):  # fmt: skip
        assert shown in report, shown
    md = (folder / "report.md").read_text()
    assert "Signed off" in md and "DORA-RTS-25" in md

    # the evidence pack of the signed-off run verifies and carries all of it
    key = tmp_path / "k.pem"
    assert drillctl("evidence", "keygen", "-o", str(key), cwd=tmp_path).returncode == 0
    exported = evidence("export", folder.name, "--key-file", str(key), "-o", "p.tar")
    assert exported.returncode == 0, exported.stderr
    verified = drillctl("evidence", "verify", "p.tar", "--key", f"{key}.pub", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    assert f"journal: {entries + 3} entries" in verified.stdout
    pack = (tmp_path / "p.tar").read_bytes()
    assert b"Dana Ng (DR lead)" in pack and b"DORA-RTS-25" in pack
    # a running record cannot be signed off, a missing run is one line
    missing = evidence("sign-off", "no-such-run-123", "--as", "x")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
