"""Benchmark: `drillctl validate DIR` over 1,000 scenario files must take under 3 s.

Generates the files in a temporary folder (variations of a scenario with a Kubernetes
fault, a raw Chaos Mesh fault, failover and failback steps), then times one subprocess
run, start-up included. Run: .venv/bin/python benchmarks/validate_many.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 3.0
FILES = 1000

TEMPLATE = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Scenario
metadata:
  name: generated-{n}
  description: Generated scenario number {n}.
spec:
  clusters:
    - name: east
    - name: west
  steadyState:
    - name: requests succeed
      query: sum(rate(http_requests_total{{code!~"5.."}}[1m])) / sum(rate(http_requests_total[1m]))
      expect: ">= 0.99"
      window: 1m
  guardrails:
    - name: error budget
      query: sum(rate(http_requests_total{{code=~"5.."}}[1m]))
      abortWhen: "> {n}"
      for: 30s
  faults:
    - name: lose-east
      type: cluster-loss
      cluster: east
      namespaces: [app-{n}]
      duration: {minutes}m
    - name: kill-one
      type: chaos-mesh
      cluster: west
      startAfter: 30s
      manifest:
        apiVersion: chaos-mesh.org/v1alpha1
        kind: PodChaos
        metadata: {{name: kill-{n}}}
        spec:
          action: pod-kill
          mode: one
          selector:
            namespaces: [app-{n}]
            labelSelectors: {{app: web}}
  failover:
    steps:
      - name: scale west
        action: scale
        cluster: west
        target: {{kind: Deployment, name: web, namespace: app-{n}}}
        replicas: 3
      - name: wait for west
        action: wait-for
        cluster: west
        target: {{kind: Deployment, name: web, namespace: app-{n}}}
        condition: Available
  failback:
    policy: on-success
    steps:
      - name: scale west down
        action: scale
        cluster: west
        target: {{kind: Deployment, name: web, namespace: app-{n}}}
        replicas: 0
  measure:
    from: lose-east
    rto:
      sli: sum(rate(http_requests_total{{code!~"5.."}}[1m])) / sum(rate(http_requests_total[1m]))
      upWhen: ">= 0.99"
  objectives:
    rto: 5m
"""


def drillctl() -> str:
    beside = Path(sys.executable).parent / "drillctl"
    found = str(beside) if beside.exists() else shutil.which("drillctl")
    if found is None:
        sys.exit("drillctl is not installed (pip install -e .)")
    return found


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="drill-validate-") as tmp:
        folder = Path(tmp)
        for n in range(FILES):
            text = TEMPLATE.format(n=n, minutes=1 + n % 30)
            (folder / f"scenario-{n:04d}.yaml").write_text(text, encoding="utf-8")
        start = time.perf_counter()
        proc = subprocess.run([drillctl(), "validate", str(folder)], capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    ok_lines = sum(line.startswith("ok ") for line in proc.stdout.splitlines())
    if proc.returncode != 0 or ok_lines != FILES:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
        print(f"validate failed: exit {proc.returncode}, {ok_lines} of {FILES} files ok")
        return 1
    verdict = "ok" if elapsed < TARGET_SECONDS else "MISSED"
    print(
        f"drillctl validate: {FILES} files in {elapsed:.2f} s "
        f"({elapsed / FILES * 1000:.2f} ms per file); target < {TARGET_SECONDS:.0f} s: {verdict}"
    )
    return 0 if elapsed < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
