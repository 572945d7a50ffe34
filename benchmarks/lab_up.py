"""Benchmark: `drillctl lab up` must be ready in under 25 s (fresh state folder and reused one).

`lab up` returns once a drill can start: that includes READY_HISTORY_SECONDS (12 s) of metric
history for the lab scenarios' steady-state windows, so the target is that plus the 10 s the
processes had to be up in before it waited for history (and a few seconds for Prometheus's
first scrape, about 5 s after it is ready).
Usage: .venv/bin/python benchmarks/lab_up.py [--runs 3]
Exits 1 if any start took 25 s or more. Every lab it starts is stopped and deleted.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 25.0


def drillctl(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "runner", "lab", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    results: list[tuple[str, float]] = []
    for i in range(runs):
        base = Path(tempfile.mkdtemp(prefix="lab-bench-", dir="/tmp"))
        base.chmod(0o755)
        state = str(base / "lab")
        try:
            results.append((f"fresh #{i + 1}", drillctl("up", "--state-dir", state)))
            drillctl("down", "--state-dir", state)
            results.append((f"reuse #{i + 1}", drillctl("up", "--state-dir", state)))
        finally:
            drillctl("down", "--state-dir", state)
            shutil.rmtree(base, ignore_errors=True)
    for name, seconds in results:
        print(f"lab up ({name}): {seconds:.2f}s")
    worst = max(s for _, s in results)
    verdict = "OK" if worst < TARGET_SECONDS else "TOO SLOW"
    print(f"worst {worst:.2f}s, target < {TARGET_SECONDS:.0f}s: {verdict}")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
