"""The verdict of a run, decided from data: what happened and what was measured.

Order of precedence: a runner error or an abort says the drill did not complete; then a
missed objective or a failed return to steady state (failed); then a measurement that
could not be trusted (inconclusive, never a pass); else passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from runner.records.summary import OBJECTIVES


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"
    ERROR = "error"
    INCONCLUSIVE = "inconclusive"
    CRASHED = "crashed"
    """Its process died mid-run; set afterwards by whoever closed the run
    (`runner.engine.dead_runs`), never decided by the run itself."""


EXIT_CODES = {
    Status.PASSED: 0,
    Status.FAILED: 1,
    Status.ABORTED: 3,
    Status.ERROR: 3,
    Status.INCONCLUSIVE: 3,
    Status.CRASHED: 3,
}


def label(key: str) -> str:
    """How a measurement is named in a reason (as in the objectives table)."""
    return OBJECTIVES.get(key, key.upper())


def decide(
    *,
    hint: tuple[Status, str] | None,
    measurements: Mapping[str, Mapping[str, Any]],
    post_ok: bool | None,
) -> tuple[Status, str]:
    """The run's status and a one-line reason."""
    if hint is not None and hint[0] in (Status.ERROR, Status.ABORTED):
        return hint
    missed = [k for k, m in measurements.items() if m.get("status") == "missed"]
    if missed:
        parts = [f"{label(k)}: {measurements[k].get('explanation', 'missed')}" for k in missed]
        return Status.FAILED, "; ".join(parts)
    if post_ok is False:
        return Status.FAILED, "steady state did not return after failback"
    unsure = [k for k, m in measurements.items() if m.get("status") == "inconclusive"]
    if unsure:
        parts = [
            f"{label(k)}: {measurements[k].get('explanation', 'inconclusive')}" for k in unsure
        ]
        return Status.INCONCLUSIVE, "; ".join(parts)
    if hint is not None:
        return hint
    met = [f"{label(k)} met" for k, m in measurements.items() if m.get("status") == "met"]
    return Status.PASSED, ", ".join(met) if met else "completed; no objective to judge"
