"""Benchmark: `drillctl validate` of a hostile 4 MiB file must stay bounded in time and memory.

The file of issue #15: a scenario whose `spec` holds 245,000 unknown keys (just under the
4 MiB size limit). Before the bound it took 13.5 s and 580 MB and printed 245,000 lines;
now parsing stops at 100,000 keys and values and at most 100 problems are listed. Targets:
under 2 s of CPU time (start-up included; CPU rather than wall time, so a busy machine does
not change the verdict), under 150 MB peak resident memory, at most 102 lines of output.
Run: .venv/bin/python benchmarks/validate_huge.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from validate_many import drillctl  # this folder is on sys.path when run as a script

TARGET_CPU_SECONDS = 2.0
TARGET_MB = 150.0
KEYS = 245_000
HEAD = "apiVersion: drill-runner.dev/v1alpha1\nkind: Scenario\nmetadata: {name: huge}\nspec:\n"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="drill-huge-") as tmp:
        path = Path(tmp) / "huge.yaml"
        path.write_text(HEAD + "".join(f"  key{i:07d}: 1\n" for i in range(KEYS)))
        size = path.stat().st_size
        start = time.perf_counter()
        proc = subprocess.run([drillctl(), "validate", str(path)], capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    lines = len(proc.stdout.splitlines())
    if proc.returncode != 2 or "Traceback" in proc.stderr:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
        print(f"validate should refuse the file with exit 2, got {proc.returncode}")
        return 1
    ok = cpu < TARGET_CPU_SECONDS and peak_mb < TARGET_MB and lines <= 102
    print(
        f"drillctl validate of {size / 2**20:.2f} MiB, {KEYS:,} unknown keys: {cpu:.2f} s CPU "
        f"({elapsed:.2f} s wall), peak {peak_mb:.0f} MB, {lines} lines of output; targets "
        f"< {TARGET_CPU_SECONDS:.0f} s CPU, < {TARGET_MB:.0f} MB, <= 102 lines: "
        f"{'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
