"""The plugin's own exceptions, each carrying the text pytest shows for it.

A drill verdict other than passed becomes one of these when a scenario item runs, so the
failure report is the run's summary instead of a Python traceback. The first line of each
message is what pytest's short summary shows.
"""

from __future__ import annotations

from runner.engine.verdict import Status
from runner.errors import Issue
from runner.pytest_plugin.report import DrillReport


class DrillPluginError(Exception):
    """Root of the plugin's exceptions; `str()` is the complete report."""


class InvalidFile(DrillPluginError):
    """A scenario or drill file failed validation: every issue, as file:line:column: field."""

    def __init__(self, kind: str, label: str, issues: list[Issue]) -> None:
        self.issues = issues
        listed = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"invalid {kind} {label}: {len(issues)} issue(s)\n{listed}")


class DrillNotStarted(DrillPluginError):
    """The drill could not start at all (bad drill file, unreachable target, no lab)."""


class DrillVerdict(DrillPluginError):
    """A run that did not pass; the message is its summary (see `render_text`)."""

    def __init__(self, report: DrillReport) -> None:
        self.report = report
        super().__init__(f"drill {report.status}: {report.reason}\n\n{report.summary()}")


class DrillFailed(DrillVerdict):
    """An objective was missed, or steady state did not return."""


class DrillInconclusive(DrillVerdict):
    """A measurement could not be trusted: never a pass."""


class DrillAborted(DrillVerdict):
    """The run stopped before its verdict: aborted (guardrail, gate) or a runner error."""


def verdict_error(report: DrillReport) -> DrillVerdict | None:
    """The exception for a verdict; None when the drill passed."""
    if report.status is Status.PASSED:
        return None
    if report.status is Status.FAILED:
        return DrillFailed(report)
    if report.status is Status.INCONCLUSIVE:
        return DrillInconclusive(report)
    return DrillAborted(report)
