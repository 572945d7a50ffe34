"""Benchmark: each lab pattern's drill, with failback, in under 60 s of wall time.

For each case (a topology, its drill file and a scenario), starts a lab in that topology in
a temporary state folder, waits until Prometheus holds a steady-state window, then times
`drillctl run` from start to verdict, and prints the measured figures beside the lab's
ground truth. Exits 1 if a drill did not end as expected (three must not pass: a lag that
loses writes fails its RPO, a lost or slow synchronous standby aborts) or took 60 s or more.
Each lab is stopped and deleted.
Usage: .venv/bin/python benchmarks/lab_drill.py [SCENARIO ...]   (default: every case)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from runner.breakdown import LatencyStats
from runner.journal.run import Run

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0
CASES = [
    # (scenario in scenarios/lab, topology, drill file, the status it must end with)
    ("region-failover", "two-site", "lab.yaml", "passed"),
    ("replication-lag-breach", "two-site", "lab.yaml", "failed"),  # real loss: RPO not met
    ("sync-region-failover", "sync", "lab-sync.yaml", "passed"),
    ("sync-standby-loss", "sync", "lab-sync.yaml", "aborted"),  # writes stall: the guardrail
    ("sync-standby-slow", "sync", "lab-sync.yaml", "aborted"),  # writes slow: the guardrail
    ("dns-failover", "dns-failover", "lab-dns.yaml", "passed"),
    ("dns-active-active", "dns-active-active", "lab-dns.yaml", "passed"),
]


def drillctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def wait_warm(state: Path) -> None:
    url = json.loads((state / "lab.json").read_text())["prometheus_url"]
    q = urllib.parse.urlencode({"query": "count_over_time(lab_probe_success[15s])"})
    for _ in range(90):
        with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as resp:
            result = json.loads(resp.read())["data"]["result"]
        if result and float(result[0]["value"][1]) >= 14:
            return
        time.sleep(1)
    raise SystemExit("Prometheus collected no probe history in 90 s")


def bench(scenario: str, topology: str, drill_file: str, expected: str) -> bool:
    base = Path(tempfile.mkdtemp(prefix="drill-bench-", dir="/tmp"))
    base.chmod(0o755)
    state = base / "lab"
    shutil.copytree(REPO / "scenarios" / "lab", base / "scenarios" / "lab")  # the drill's tree
    (base / "drills").mkdir()
    drill = base / "drills" / drill_file
    text = (REPO / "drills" / drill_file).read_text()
    drill.write_text(re.sub(r"( +)site: ([a-z0-9-]+)", rf"\1site: \2\n\1stateDir: {state}", text))
    try:
        up = drillctl("lab", "up", "--state-dir", str(state), "--topology", topology, cwd=base)
        if up.returncode != 0:
            print(up.stderr)
            return False
        wait_warm(state)
        started = time.perf_counter()
        run = drillctl(
            "run",
            str(REPO / "scenarios" / "lab" / f"{scenario}.yaml"),
            "--drill",
            str(drill),
            "--results",
            str(base / "results"),
            "--output",
            "json",
            cwd=base,
        )
        wall = time.perf_counter() - started
    finally:
        drillctl("lab", "down", "--state-dir", str(state), cwd=base)
        shutil.rmtree(base, ignore_errors=True)
    record = json.loads(run.stdout) if run.stdout.strip() else {}
    status = record.get("status")
    print(
        f"{scenario} ({topology}): {status} (expected {expected}), {wall:.1f} s wall "
        f"(target < {TARGET_SECONDS:g} s)"
    )
    print("  " + measured_vs_observed(record))
    return status == expected and wall < TARGET_SECONDS


def fmt(value: Any) -> str:
    """A figure as printed: seconds to the millisecond, '-' where the record has none."""
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def measured_vs_observed(record: dict[str, Any]) -> str:
    """One line: the RTO and RPO measured (bounds) against the lab's ground truth, and the
    DNS phases or the write latency where the drill has them."""
    m, o = record.get("measurements") or {}, record.get("observed") or {}
    rto, rpo = m.get("rto") or {}, m.get("rpo") or {}
    canary = ((rpo.get("details") or {}).get("canary") or {}).get("lostWrites")
    parts = [
        f"RTO {fmt(rto.get('lowerSeconds'))}-{fmt(rto.get('upperSeconds'))} s"
        f" (observed {fmt(o.get('rtoSeconds'))})",
        f"RPO {fmt(rpo.get('lowerSeconds'))}-{fmt(rpo.get('upperSeconds'))} s"
        f" (observed lost window {fmt(o.get('lostWindowSeconds'))})",
        f"lost writes canary {fmt(canary)} / observed {fmt(o.get('lostWrites'))}"
        f" of {fmt(o.get('acknowledgedWrites'))}",
    ]
    if record.get("status") != "passed":
        parts = [f"reason: {record.get('reason')}", *(parts if m or o else [])]
    run = Run.from_json(record)
    phases = run.rto_phases
    for p in () if phases is None else phases.phases:
        got = p.measured
        assert phases is not None
        parts.append(
            f"{p.key} {fmt(None if got is None else got.midpoint - phases.fault_start)}"
            f"±{fmt(None if got is None else got.uncertainty)} s"
            f" (observed {fmt(None if p.observed is None else p.observed - phases.fault_start)})"
        )
    latency = None if run.observed is None else run.observed.write_latency
    if latency is not None:

        def kind(stats: LatencyStats | None) -> str:
            if stats is None:
                return "- (n=0)"
            return f"{fmt(stats.p50)}/{fmt(stats.p99)} s (n={stats.count})"

        parts.append(
            f"commits sync p50/p99 {kind(latency.sync)}, async p50/p99 {kind(latency.async_)},"
            f" penalty p50 {fmt(latency.penalty_p50)} s p99 {fmt(latency.penalty_p99)} s"
        )
    return "; ".join(parts)


def main() -> int:
    wanted = set(sys.argv[1:])
    results = [bench(*case) for case in CASES if not wanted or case[0] in wanted]
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
