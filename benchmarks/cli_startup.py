"""Benchmark: `drillctl --help` must answer in under 0.3 s (median of several runs).

Run: .venv/bin/python benchmarks/cli_startup.py   (exits 1 if the target is missed)
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.3
RUNS = 9


def drillctl() -> str:
    beside = Path(sys.executable).parent / "drillctl"
    found = str(beside) if beside.exists() else shutil.which("drillctl")
    if found is None:
        sys.exit("drillctl is not installed (pip install -e .)")
    return found


def main() -> int:
    command = [drillctl(), "--help"]
    subprocess.run(command, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    verdict = "ok" if median < TARGET_SECONDS else "MISSED"
    print(
        f"drillctl --help: median {median * 1000:.0f} ms over {RUNS} runs "
        f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms); "
        f"target < {TARGET_SECONDS * 1000:.0f} ms: {verdict}"
    )
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
