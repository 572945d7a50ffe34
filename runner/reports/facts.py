"""Small facts about a run shared by the HTML and Markdown reports: times, durations, output
excerpts, faults grouped by cluster, and the problems worth a line of their own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runner.journal.entries import FaultEntry, LegacyMeasurement, seconds_between
from runner.journal.run import Run

EXCERPT_CHARS = 600


def clock(value: datetime | float | None) -> str:
    """HH:MM:SS.mmm UTC of a time or unix seconds, or '-'."""
    if value is None:
        return "-"
    t = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    return t.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def when(value: datetime | None) -> str:
    """YYYY-MM-DD HH:MM:SS UTC of a time, or '-'."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: datetime | None, end: datetime | None) -> str:
    seconds = seconds_between(start, end)
    return "-" if seconds is None else f"{seconds:.1f}s"


def excerpt(output: str | None, limit: int = EXCERPT_CHARS) -> str:
    """The end of a step's output (the runner keeps the tail too); says how much was left out."""
    if output is None:
        return ""
    if len(output) <= limit:
        return output
    return f"… ({len(output) - limit} earlier characters in run.json)\n{output[-limit:]}"


def faults_by_cluster(run: Run) -> dict[str, list[FaultEntry]]:
    out: dict[str, list[FaultEntry]] = {}
    for f in run.faults:
        out.setdefault(f.cluster, []).append(f)
    return out


def problems(run: Run) -> list[str]:
    """One line per thing that went wrong: failed checks and steps, breaches, faults left."""
    lines = []
    for when_, gate in run.steady_state.items():
        for c in gate.checks:
            if not c.passed:
                lines.append(f"steady state {when_}: {c.name} failed: {c.reason}")
    for s in run.steps:
        if s.status.value not in ("succeeded", "skipped"):
            what = f"step {s.name} ({s.phase}) {s.status.value}"
            lines.append(f"{what}: {s.error}" if s.error else what)
    for g in run.guardrails:
        lines.append(f"guardrail {g.name} breached at {clock(g.breached_at)} (value {g.value})")
    for f in run.faults:
        if not f.removed:
            lines.append(f"fault {f.name} on {f.cluster} NOT REMOVED")
    return lines


def lost_writes(run: Run) -> tuple[int | None, int | None] | None:
    """(lost writes by canary, the maxLostWrites objective) when the RPO measured them."""
    rpo = run.measurements.rpo
    if rpo is None:
        return None
    if isinstance(rpo, LegacyMeasurement):
        canary = rpo.details.get("canary") or {}
        if "maxLostWrites" not in rpo.details and "lostWrites" not in canary:
            return None
    return (None if rpo.canary is None else rpo.canary.lost_writes), rpo.max_lost_writes


def continuity(run: Run) -> str | None:
    """One line on the writes of the round trip (the target's ledger, docs/failback.md)."""
    back = None if run.observed is None else run.observed.failback
    truth = None if back is None else back.continuity
    if truth is None:
        return None
    lost = [f"{p.lost} in {p.phase}" for p in truth.phases if p.lost]
    return (
        f"{truth.acknowledged_writes} acknowledged writes, {truth.lost_writes} lost"
        + (f" ({', '.join(lost)})" if lost else "")
        + f", {truth.split_brain_writes} split-brain ({truth.split_brain_lost} of"
        " them lost)"
    )


def clock_epoch(value: Any) -> str:
    """HH:MM:SS.mmm of unix seconds (a writer's timestamp), or '-'."""
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%H:%M:%S.%f")[:-3]
    except (TypeError, ValueError, OverflowError, OSError):
        return "-"


def rto_phases(run: Run) -> list[list[str]]:
    """The RTO's phase breakdown as table rows (empty when the run has none): phase,
    measured seconds from the fault, uncertainty, observed, how."""
    phases = run.rto_phases
    if phases is None:
        return []
    rows = []
    for p in phases.phases:
        m = p.measured
        rows.append(
            [
                p.label,
                "-" if m is None else f"{m.midpoint - phases.fault_start:+.2f}",
                "-" if m is None else f"±{m.uncertainty:.2f}s",
                "-" if p.observed is None else f"{p.observed - phases.fault_start:+.2f}",
                p.how,
            ]
        )
    return rows


def write_latency(run: Run) -> str:
    """Synchronous vs asynchronous commit latency, one line ('' when the run has none)."""
    latency = None if run.observed is None else run.observed.write_latency
    return "" if latency is None else latency.text()
