"""The engine's own overhead on a drill: wall time minus the waits the drill asks for.

Runs the in-memory drill from the engine tests (two sites, a cluster loss, failover and
failback steps) on the real clock, counting every wait the engine and its steps ask the
clock for. Target: overhead below 2% of the drill's wall time.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.clock import SystemClock
from runner.engine.drill import DrillRun
from runner.steps.generic import GenericStepExecutor
from tests.engine.fakes import MemoryMetrics, MemoryTarget, World
from tests.engine.test_drill import DRILL, scenario

TARGET = 0.02


class CountingClock(SystemClock):
    """The real clock, summing what is slept."""

    def __init__(self) -> None:
        self.slept = 0.0

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        start = time.monotonic()
        try:
            return super().sleep(seconds, cancel)
        finally:
            self.slept += time.monotonic() - start

    def advance(self, seconds: float) -> None:  # World's API; the real clock cannot jump
        raise AssertionError("not used")


def main() -> int:
    clock = CountingClock()
    world = World(clock=clock)  # type: ignore[arg-type]
    sc = scenario(timeouts={"observe": "5s", "recovery": "2m"}, objectives={"rto": "1m"})
    sc = sc.model_copy(
        update={"spec": sc.spec.model_copy(update={"steady_state": [], "guardrails": []})}
    )
    sc_rto = sc.spec.measure.rto
    assert sc_rto is not None
    sc = sc.model_copy(
        update={
            "spec": sc.spec.model_copy(
                update={
                    "measure": sc.spec.measure.model_copy(
                        update={"rto": sc_rto.model_copy(update={"hold": sc_rto.hold / 10})}
                    )
                }
            )
        }
    )
    targets = {n: MemoryTarget(world, n) for n in ("primary", "secondary")}
    world.snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        result = DrillRun(
            scenario=sc,
            scenario_path=Path("x.yaml"),
            drill=DRILL,
            drill_path=Path("d.yaml"),
            targets=targets,
            metrics=MemoryMetrics(world),
            generic_steps=GenericStepExecutor(),
            clock=clock,
            results_dir=Path(tmp),
            run_id="bench-overhead-0001",
            operator="bench",
        ).execute()
        wall = time.monotonic() - started
    overhead = wall - clock.slept
    share = overhead / wall
    print(
        f"drill {result.status.value}: wall {wall:.2f}s, waits {clock.slept:.2f}s, "
        f"overhead {overhead * 1000:.0f} ms = {share:.2%} (target < {TARGET:.0%})"
    )
    return 0 if share < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
