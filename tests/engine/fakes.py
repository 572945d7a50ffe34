"""An in-memory target system for engine tests: two sites, faults, steps, and a simulated SLI.

It implements the engine's own protocols (runner.backends, runner.engine.metrics), so the
phase machine runs for real against it with a FakeClock: a ten-minute drill takes milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner.backends import (
    InjectedFault,
    Leftover,
    LockHolder,
    PlannedObject,
    PreflightReport,
    RunContext,
    StepResult,
)
from runner.clock import FakeClock
from runner.engine.metrics import Breach, GateResult, MeasureResult, Progress
from runner.errors import FaultError, LockHeldError, StepError
from runner.measure import checks, timebase
from runner.measure.checks import CheckResult
from runner.measure.history import History
from runner.measure.results import RtoResult
from runner.measure.rto import compute_rto
from runner.prom import Series
from runner.scenario import model


@dataclass
class World:
    """The simulated system: which site serves, which sites are down, and a metric history."""

    clock: FakeClock
    active: str = "primary"
    down: set[str] = field(default_factory=set)
    faults: dict[str, InjectedFault] = field(default_factory=dict)
    locks: dict[str, str] = field(default_factory=dict)
    history: list[tuple[datetime, str, set[str]]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    fail_steps: dict[str, int] = field(default_factory=dict)
    """Step name -> how many more attempts of it fail."""
    inject_error: str | None = None
    guardrail_value: float = 0.0
    guardrail_series: Callable[[datetime], float] | None = None
    """A guardrail metric over time, sampled every second and judged as the engine's own
    Prometheus metrics judge it (instead of the constant `guardrail_value`)."""
    healthy_before: bool = True
    steady_from: datetime | None = None
    """Steady state holds only from this time on (the system is still settling before it)."""
    gate_checks: list[datetime] = field(default_factory=list)
    """When the steady-state checks were evaluated."""
    old_primary_acks: list[datetime] = field(default_factory=list)
    """When the old primary acknowledged a write (its counter, for split-brain writes)."""
    step_outputs: dict[str, str] = field(default_factory=dict)
    """Step name -> extra output it prints (e.g. rejoin facts)."""

    def acks_at(self, t: datetime) -> int:
        return sum(1 for at in self.old_primary_acks if at <= t)

    def snapshot(self) -> None:
        self.history.append((self.clock.now(), self.active, set(self.down)))

    def up_at(self, t: datetime) -> bool:
        state = ("primary", set[str]())
        for at, active, down in self.history:
            if at <= t:
                state = (active, down)
        return state[0] not in state[1]


class MemoryFaults:
    def __init__(self, world: World, cluster: str) -> None:
        self.world, self.cluster = world, cluster

    def plan(self, fault: model.Fault, run: RunContext) -> list[PlannedObject]:
        return []

    def inject(
        self, fault: model.Fault, run: RunContext, on_created: Callable[[InjectedFault], None]
    ) -> list[InjectedFault]:
        w = self.world
        created = InjectedFault(
            cluster=self.cluster,
            fault=fault.name,
            kind="memory",
            name=fault.name,
            namespace=None,
            injected_at=None,
        )
        w.faults[fault.name] = created
        on_created(created)
        w.calls.append(f"inject:{fault.name}")
        if w.inject_error:
            raise FaultError(w.inject_error)
        if isinstance(fault, model.ClusterLossFault):
            w.down.add(self.cluster)
            w.snapshot()
        done = InjectedFault(
            cluster=self.cluster,
            fault=fault.name,
            kind="memory",
            name=fault.name,
            namespace=None,
            injected_at=run.clock.now(),
        )
        w.faults[fault.name] = done
        return [done]

    def remove(self, fault: InjectedFault, run: RunContext) -> None:
        self.world.calls.append(f"remove:{fault.fault}")
        self.world.faults.pop(fault.fault, None)
        self.world.down.discard(self.cluster)
        self.world.snapshot()

    def sweep(self, *, run_id: str | None, older_than_seconds: float | None) -> list[Leftover]:
        return []

    def remove_leftover(
        self, leftover: Leftover, *, force: bool, timeout: float | None = None
    ) -> None:
        return None


class MemorySteps:
    def __init__(self, world: World, cluster: str) -> None:
        self.world, self.cluster = world, cluster

    def supports(self, action: str) -> bool:
        return action in model.LAB_ACTIONS

    def execute(self, step: model.Step, run: RunContext) -> StepResult:
        w = self.world
        w.calls.append(f"step:{step.name}")
        if w.fail_steps.get(step.name, 0) > 0:
            w.fail_steps[step.name] -= 1
            raise StepError(f"{step.name} failed on purpose")
        run.clock.sleep(1.0)
        if isinstance(step, model.LabRouteStep):
            w.active = self.cluster
            w.snapshot()
        if isinstance(step, model.LabFenceStep):
            w.down.add(self.cluster)
            w.snapshot()
        if isinstance(step, model.LabRejoinStep) and self.cluster in w.down:
            w.down.discard(self.cluster)
            w.snapshot()
        return StepResult(
            output=f"{step.action} on {self.cluster}\n{w.step_outputs.get(step.name, '')}"
        )


class MemoryLock:
    def __init__(self, world: World, cluster: str) -> None:
        self.world, self.cluster = world, cluster

    def acquire(self, run: RunContext) -> None:
        holder = self.world.locks.get(self.cluster)
        if holder and holder != run.run_id:
            raise LockHeldError(self.cluster, holder, "earlier")
        self.world.locks[self.cluster] = run.run_id

    def renew(self, run: RunContext) -> None:
        return None

    def release(self, run: RunContext) -> None:
        self.world.locks.pop(self.cluster, None)

    def force_unlock(self) -> str | None:
        return self.world.locks.pop(self.cluster, None)

    def holder(self) -> LockHolder | None:
        run_id = self.world.locks.get(self.cluster)
        return None if run_id is None else LockHolder(run_id=run_id, since="-", expired=False)

    def release_dead(self, run_id: str) -> bool:
        if self.world.locks.get(self.cluster) != run_id:
            return False
        del self.world.locks[self.cluster]
        return True


class MemoryTarget:
    def __init__(self, world: World, name: str) -> None:
        self.name = name
        self.description = f"memory site {name}"
        self.faults = MemoryFaults(world, name)
        self.steps = MemorySteps(world, name)
        self.lock = MemoryLock(world, name)
        self.world = world

    def preflight(self, scenario: model.Scenario, run: RunContext) -> PreflightReport:
        return PreflightReport(cluster=self.name)

    def observed(
        self, *, fault_start: datetime, hold_seconds: float, until: datetime
    ) -> Mapping[str, Any] | None:
        return {"rtoSeconds": None, "lostWrites": 0}

    def observed_failback(
        self, *, timeline: Mapping[str, datetime], hold_seconds: float, until: datetime
    ) -> Mapping[str, Any] | None:
        return None

    def close(self) -> None:
        return None


class MemoryMetrics:
    """Answers from the World's history at 1 s resolution, like a Prometheus with 1 s scrapes."""

    def __init__(self, world: World) -> None:
        self.world = world

    def step_seconds(self) -> float:
        return 1.0

    def steady_state(self, checks: list[model.SteadyStateCheck], *, end: datetime) -> GateResult:
        self.world.gate_checks.append(end)
        settled = self.world.steady_from is None or end >= self.world.steady_from
        ok = self.world.healthy_before and settled and self.world.up_at(end)
        reason = "all samples met" if ok else "3 of 10 samples did not meet '>= 1'"
        return GateResult(
            passed=ok,
            checks=tuple(
                CheckResult(
                    name=c.name,
                    query=c.query,
                    expect=c.expect.text,
                    passed=ok,
                    reason=reason,
                    window_seconds=c.window.total_seconds(),
                )
                for c in checks
            ),
        )

    def guardrails(
        self, guardrails: list[model.Guardrail], *, start: datetime, end: datetime
    ) -> list[Breach]:
        if self.world.guardrail_series is not None:
            of = self.world.guardrail_series
            first = math.ceil(start.timestamp())
            samples = tuple(
                (float(t), of(datetime.fromtimestamp(t, UTC)))
                for t in range(first, math.floor(end.timestamp()) + 1)
            )
            found = [
                checks.evaluate_guardrail(
                    g, [Series(labels={}, samples=samples)], start=start, end=end, step_s=1.0
                )
                for g in guardrails
            ]
            return [
                Breach(guardrail=r.name, value=r.value, at=r.at or end)
                for r in found
                if r.breached and r.value is not None
            ]
        value = self.world.guardrail_value
        return [
            Breach(guardrail=g.name, value=value, at=start)
            for g in guardrails
            if g.abort_when.holds(value)
        ]

    def verification(
        self,
        spec: model.ScenarioSpec,
        *,
        fault_start: datetime,
        fault_requested: datetime | None,
    ) -> MemoryVerification:
        return MemoryVerification(self.world, spec, fault_start)

    def counter(self, query: str, *, start: datetime, end: datetime) -> list[History]:
        """The World's acknowledged-write counter of the old primary, sampled every second."""

        def value(t: int) -> float:
            if "created" in query:
                return 1.0  # the counter's process never restarts
            return float(self.world.acks_at(timebase.at(t)))

        points = [(t, value(t)) for t in range(timebase.ms(start), timebase.ms(end) + 1, 1000)]
        return [History(points=tuple(points))]


class MemoryVerification:
    """The real RTO rules (`runner.measure.rto`) over the World sampled every second."""

    def __init__(self, world: World, spec: model.ScenarioSpec, fault_start: datetime) -> None:
        self.world, self.spec, self.fault_start = world, spec, timebase.ms(fault_start)

    def _rto(self, end: datetime) -> RtoResult:
        r = self.spec.measure.rto
        assert r is not None
        w = timebase.ms(end)
        points = [
            (t, 1.0 if self.world.up_at(timebase.at(t)) else 0.0)
            for t in range(self.fault_start - 10_000, w + 1, 1000)
        ]
        objective = self.spec.objectives.rto
        return compute_rto(
            [History(points=tuple(points))],
            up_when=r.up_when,
            hold=round(r.hold.total_seconds() * 1000),
            fault_start=self.fault_start,
            window_end=w,
        ).judged(None if objective is None else objective.total_seconds())

    def poll(self, now: datetime) -> Progress:
        return Progress(rto=self._rto(now), sli_value=None)

    def finish(self, end: datetime, *, failover_done: datetime | None) -> MeasureResult:
        return MeasureResult(rto=self._rto(end), rpo=None, stored={})
