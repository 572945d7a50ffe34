"""The verdict of a run, decided from data: what happened and what was measured.

Order of precedence: a runner error or an abort says the drill did not complete; then a
missed objective or a failed return to steady state (failed); then a measurement that
could not be trusted (inconclusive, never a pass); else passed.
"""

from __future__ import annotations

from runner.journal.entries import Measurements
from runner.journal.status import EXIT_CODES as EXIT_CODES  # re-exported
from runner.journal.status import Status as Status  # re-exported
from runner.measure.results import Status as Judged
from runner.reports.summary import OBJECTIVES


def label(key: str) -> str:
    """How a measurement is named in a reason (as in the objectives table)."""
    return OBJECTIVES.get(key, key.upper())


def decide(
    *,
    hint: tuple[Status, str] | None,
    measurements: Measurements,
    post_ok: bool | None,
) -> tuple[Status, str]:
    """The run's status and a one-line reason."""
    if hint is not None and hint[0] in (Status.ERROR, Status.ABORTED):
        return hint
    items = measurements.items()
    missed = [
        f"{label(k)}: {m.explanation or 'missed'}" for k, m in items if m.status is Judged.MISSED
    ]
    if missed:
        return Status.FAILED, "; ".join(missed)
    if post_ok is False:
        return Status.FAILED, "steady state did not return after failback"
    unsure = [
        f"{label(k)}: {m.explanation or 'inconclusive'}"
        for k, m in items
        if m.status is Judged.INCONCLUSIVE
    ]
    if unsure:
        return Status.INCONCLUSIVE, "; ".join(unsure)
    if hint is not None:
        return hint
    met = [f"{label(k)} met" for k, m in items if m.status is Judged.MET]
    return Status.PASSED, ", ".join(met) if met else "completed; no objective to judge"
