"""Inject + confirm a Chaos Mesh fault on N targets at once, against the kube emulator.

Each target is its own client and namespace (as separate clusters would be); one fake
Chaos Mesh controller confirms injection through the API. Targets: 10 targets < 2 s,
100 targets < 10 s (inject+confirm, concurrent fan-out). Run from the repo root:

    .venv/bin/python benchmarks/inject_fanout.py [N ...]
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner.backends import RunContext
from runner.chaosmesh.provider import ChaosMeshFaultProvider
from runner.clock import SystemClock
from runner.kube.client import client_from_url
from runner.scenario import model
from tests.infra.kube_emulator import KubeEmulatorThread, load_crds
from tests.kube.fake_controller import FakeChaosController

LIMITS = {10: 2.0, 100: 10.0}
FAULT = model.Scenario.model_validate(
    {
        "apiVersion": model.API_VERSION,
        "kind": "Scenario",
        "metadata": {"name": "bench"},
        "spec": {
            "clusters": [{"name": "c"}],
            "faults": [
                {
                    "name": "down",
                    "type": "cluster-loss",
                    "cluster": "c",
                    "duration": "5m",
                    "namespaces": ["db"],
                }
            ],
        },
    }
).spec.faults[0]


def bench(n: int) -> float:
    with KubeEmulatorThread(crds=load_crds()) as emu:
        ctl_client = client_from_url(emu.url, cluster="controller")
        providers = [
            ChaosMeshFaultProvider(
                client_from_url(emu.url, cluster=f"t{i}"),
                cluster=f"t{i}",
                namespace=f"ns-{i}",
                peers={},
            )
            for i in range(n)
        ]
        run = RunContext(
            run_id="bench",
            scenario="bench",
            drill="bench",
            operator="bench",
            clock=SystemClock(),
            cancel=threading.Event(),
            log=lambda a, d: None,
            inject_timeout_seconds=30,
        )
        with (
            FakeChaosController(ctl_client, None, kinds=("PodChaos",), watch_timeout=5),
            ThreadPoolExecutor(max_workers=n) as pool,
        ):
            time.sleep(0.2)  # the controller's watch is open
            start = time.perf_counter()
            results = list(pool.map(lambda p: p.inject(FAULT, run, lambda _f: None), providers))
            elapsed = time.perf_counter() - start
            assert all(r and r[0].injected_at for r in results)
            list(
                pool.map(
                    lambda pr: pr[0].remove(pr[1][0], run), zip(providers, results, strict=True)
                )
            )
        for p in providers:
            p.client.close()
        ctl_client.close()
    return elapsed


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [10, 100]
    failed = False
    for n in sizes:
        elapsed = bench(n)
        limit = LIMITS.get(n)
        ok = limit is None or elapsed < limit
        failed |= not ok
        budget = f" (limit {limit:g} s)" if limit else ""
        print(f"inject+confirm on {n:>3} targets: {elapsed:.2f} s{budget} {'ok' if ok else 'SLOW'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
