"""The seams between the engine and the systems a drill touches.

A *target backend* is what a logical cluster is bound to: a Kubernetes cluster
(Chaos Mesh faults, Kubernetes steps) or a site of the local lab (lab faults, lab
steps). The engine only sees these protocols and the frozen values below, so
the lab plugs in exactly where Chaos Mesh does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from runner.clock import Clock
from runner.scenario import model

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_RUN_ID = "drill-runner/run-id"
LABEL_SCENARIO = "drill-runner/scenario"
LABEL_FAULT = "drill-runner/fault"
ANNOTATION_DRILL = "drill-runner/drill"
ANNOTATION_OPERATOR = "drill-runner/operator"
MANAGED_BY = "drill-runner"


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """Who is running what; stamped on every object a run creates."""

    run_id: str
    scenario: str
    drill: str
    operator: str
    clock: Clock
    cancel: threading.Event
    """Set when the drill must stop; long waits return early when it is."""
    log: Callable[[str, Mapping[str, Any]], None]
    """Append an audit event: log(action, details). Never pass secrets."""
    interactive: bool = False
    approve_manual: bool = False
    inject_timeout_seconds: float = 120.0
    """Per fault: from create until confirmed injected (the scenario's timeouts.inject)."""
    remove_timeout_seconds: float = 120.0
    """Per fault: from delete until gone (the scenario's timeouts.remove)."""


@dataclass(frozen=True, kw_only=True)
class PlannedObject:
    """One object a fault will create, as `drillctl plan` prints it."""

    cluster: str
    fault: str
    kind: str
    name: str
    namespace: str | None
    manifest: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class InjectedFault:
    """A handle to one injected fault object; enough to remove it later, even from a ledger."""

    cluster: str
    fault: str
    kind: str
    name: str
    namespace: str | None
    injected_at: datetime | None
    """When the fault was confirmed injected (None while only created)."""
    one_shot: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "fault": self.fault,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "injectedAt": self.injected_at.isoformat() if self.injected_at else None,
            "oneShot": self.one_shot,
            "details": dict(self.details),
        }


@dataclass(frozen=True, kw_only=True)
class Leftover:
    """A drill-runner fault found in a target by a sweep."""

    cluster: str
    kind: str
    name: str
    namespace: str | None
    run_id: str | None
    created_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class StepResult:
    """What a step did, for the record."""

    output: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    captured: Mapping[str, str] = field(default_factory=dict)
    """Values a `capture` step read (name to text), for later steps and measurements."""


class FaultProvider(Protocol):
    """Injects and removes faults in one target."""

    def plan(self, fault: model.Fault, run: RunContext) -> list[PlannedObject]:
        """The exact objects `inject` would create; touches nothing."""
        ...

    def inject(
        self,
        fault: model.Fault,
        run: RunContext,
        on_created: Callable[[InjectedFault], None],
    ) -> list[InjectedFault]:
        """Create the fault and wait until it is confirmed injected (or raise FaultError).

        `on_created` is called for each object right after it is created and before
        waiting, so the engine can record it and remove it whatever happens next.
        """
        ...

    def remove(self, fault: InjectedFault, run: RunContext) -> None:
        """Remove the fault and wait until it is gone; idempotent (absent is fine)."""
        ...

    def sweep(self, *, run_id: str | None, older_than_seconds: float | None) -> list[Leftover]:
        """Find faults labelled by drill-runner (optionally of one run or older than)."""
        ...

    def remove_leftover(
        self, leftover: Leftover, *, force: bool, timeout: float | None = None
    ) -> None:
        """Remove a fault found by `sweep`, waiting at most `timeout` seconds for it to go
        (default: the provider's own); thread-safe, so a cleanup removes them in parallel."""
        ...


class StepExecutor(Protocol):
    """Runs the steps a target supports (one attempt; the engine retries)."""

    def supports(self, action: str) -> bool: ...

    def execute(self, step: model.Step, run: RunContext) -> StepResult:
        """Do one attempt of the step; raise StepError on failure."""
        ...


@dataclass(frozen=True, kw_only=True)
class LockHolder:
    """Who holds a target's lock, and whether the holder has stopped keeping it."""

    run_id: str
    since: str
    """When it was taken, as the lock records it."""
    expired: bool
    """The holder stopped keeping it: a Lease not renewed within its duration, or a lab lock
    whose process is gone. An expired lock is free for the next run to take."""
    detail: str = ""
    """e.g. `renewed 2026-11-29T20:01:02Z, lease 60s`."""


class TargetLock(Protocol):
    """One drill per target at a time."""

    def acquire(self, run: RunContext) -> None:
        """Take the lock or raise LockHeldError naming the holder."""
        ...

    def renew(self, run: RunContext) -> None: ...

    def release(self, run: RunContext) -> None: ...

    def force_unlock(self) -> str | None:
        """Break the lock whoever holds it (`drillctl cleanup --force-unlock`); returns the
        holder it had, or None when it was free. Only for a holder known to be dead."""
        ...

    def holder(self) -> LockHolder | None:
        """Who holds the lock now; None when it is free."""
        ...

    def release_dead(self, run_id: str) -> bool:
        """Release the lock only if `run_id` still holds it (a run proven dead); True when it
        was released, False when it was free or someone else holds it by now."""
        ...


@dataclass(frozen=True, kw_only=True)
class PreflightReport:
    """What a target lacks before a drill can run; empty `missing` means ready."""

    cluster: str
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class TargetBackend(Protocol):
    """Everything the engine needs from one bound logical cluster."""

    name: str
    """The logical cluster name."""
    description: str
    """e.g. 'lab site east' or 'kube context prod-eu'."""
    faults: FaultProvider
    steps: StepExecutor
    lock: TargetLock

    def preflight(self, scenario: model.Scenario, run: RunContext) -> PreflightReport: ...

    def observed(
        self, *, fault_start: datetime, hold_seconds: float, until: datetime
    ) -> Mapping[str, Any] | None:
        """Ground truth the target recorded itself, or None (only the lab records it).

        Keys: rtoSeconds (fault start until the first probe of the final run of
        successful probes lasting at least hold_seconds; None if none), lostWrites
        (acknowledged writes missing from the new primary), lostWindowSeconds,
        probes, failedProbes.
        """
        ...

    def observed_failback(
        self, *, timeline: Mapping[str, datetime], hold_seconds: float, until: datetime
    ) -> Mapping[str, Any] | None:
        """Ground truth of the failback, or None (only the lab records it): the failback
        RTO (rtoSeconds, from the `failbackStarted` moment of `timeline`, the run's moments
        by their run.json key), every acknowledged write of the
        drill checked on the final primary per phase (continuity), split-brain writes,
        and how the old primary rejoined (docs/failback.md)."""
        ...

    def close(self) -> None: ...
