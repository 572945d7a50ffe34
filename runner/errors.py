"""The runner's exception hierarchy: what it raises on purpose.

A drill's verdict (passed, failed, aborted, inconclusive) is data, never an
exception. Exceptions mean the runner itself could not do its job: bad input,
an unreachable system, a fault that could not be removed. Each exception
builds its message from data, and none ever carries a credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DrillError(Exception):
    """Root of everything drill-runner raises on purpose."""


@dataclass(frozen=True, kw_only=True)
class Issue:
    """One problem in an input file, located precisely."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class InvalidInputError(DrillError):
    """One or more input files are invalid; every problem is listed."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class UsageError(DrillError):
    """The command line asks for something that cannot be done as asked."""


class ProtectedTargetError(UsageError):
    """A run would touch protected targets nobody confirmed by name for this run."""

    def __init__(self, targets: Sequence[str], option: str) -> None:
        self.targets = list(targets)
        names = ", ".join(repr(t) for t in self.targets)
        flags = " ".join(f"{option} {t}" for t in self.targets)
        super().__init__(
            f"target(s) {names} protected and not confirmed for this run; nothing was done. "
            f"Confirm each by name to run unattended: {flags}"
        )


class ConfigurationError(DrillError):
    """A target, credential or environment the drill needs is missing or wrong."""


class PrometheusError(DrillError):
    """Prometheus could not answer (unreachable after retries, bad PromQL, bad response)."""


class KubeError(DrillError):
    """A Kubernetes API call failed; the message says which call on which cluster."""

    def __init__(self, message: str, *, status: int | None = None, cluster: str = "") -> None:
        self.status = status
        self.cluster = cluster
        super().__init__(message)


class FaultError(DrillError):
    """A fault could not be injected, confirmed or removed."""


class StepError(DrillError):
    """A failover or failback step failed (after its retries)."""


class LockHeldError(DrillError):
    """Another drill holds the lock on a target."""

    def __init__(self, target: str, holder: str, since: str) -> None:
        self.target, self.holder, self.since = target, holder, since
        super().__init__(f"target {target!r} is locked by run {holder} since {since}")


class LabError(DrillError):
    """The local lab could not do what was asked (not running, process failed)."""


class AbortRequested(DrillError):
    """The drill was asked to stop (Ctrl-C, SIGTERM, `drillctl abort`, a guardrail)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
