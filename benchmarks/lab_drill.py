"""Benchmark: the lab's region-failover drill, with failback, in under 60 s of wall time.

Starts a lab in a temporary state folder, waits until Prometheus holds a steady-state window,
then times `drillctl run scenarios/lab/region-failover.yaml` from start to verdict.
Exits 1 if the drill did not pass or took 60 s or more. The lab is stopped and deleted.
Usage: .venv/bin/python benchmarks/lab_drill.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0


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


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="drill-bench-", dir="/tmp"))
    base.chmod(0o755)
    state = base / "lab"
    shutil.copytree(REPO / "scenarios" / "lab", base / "scenarios" / "lab")  # the drill's tree
    (base / "drills").mkdir()
    drill = base / "drills" / "lab.yaml"
    text = (REPO / "drills" / "lab.yaml").read_text()
    for site in ("east", "west"):
        text = text.replace(f"site: {site}", f"site: {site}\n        stateDir: {state}")
    drill.write_text(text)
    try:
        up = drillctl("lab", "up", "--state-dir", str(state), cwd=base)
        if up.returncode != 0:
            print(up.stderr)
            return 1
        wait_warm(state)
        started = time.perf_counter()
        run = drillctl(
            "run",
            str(REPO / "scenarios/lab/region-failover.yaml"),
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
        f"region failover with failback: {status}, {wall:.1f} s wall "
        f"(target < {TARGET_SECONDS:g} s)"
    )
    return 0 if status == "passed" and wall < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
