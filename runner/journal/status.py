"""A run's status, and the one mapping from status to exit code."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RUNNING = "running"
    """Not finished yet (or its process died and nobody has closed it)."""
    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"
    ERROR = "error"
    INCONCLUSIVE = "inconclusive"
    CRASHED = "crashed"
    """Its process died mid-run; set afterwards by whoever closed the run
    (`runner.engine.dead_runs`), never decided by the run itself."""

    @property
    def exit_code(self) -> int:
        """0 passed, 1 failed (an objective missed), 3 anything the run could not prove."""
        return EXIT_CODES[self]


EXIT_CODES = {
    Status.PASSED: 0,
    Status.FAILED: 1,
    Status.ABORTED: 3,
    Status.ERROR: 3,
    Status.INCONCLUSIVE: 3,
    Status.CRASHED: 3,
    Status.RUNNING: 3,
}


def exit_code(status: str | None) -> int:
    """The exit code of a status given as text (3 for anything unknown)."""
    try:
        return Status(str(status)).exit_code
    except ValueError:
        return EXIT_CODES[Status.ERROR]
