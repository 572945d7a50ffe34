"""The plain-text summary of a run, shared by `drillctl run`, `drillctl report` and the
pytest plugin: verdict, objectives table, phase timeline, faults, where the record is.

It is terminal text: every value from the record is one `runner.text.line` (no escape
sequence, and no line of its own: a newline in a value shows as `\\n`)."""

from __future__ import annotations

from typing import Any

from runner.journal.entries import LegacyMeasurement, Measurement, Measurements, Rpo, Rto
from runner.journal.run import Run
from runner.measure.failback import RejoinResult, SplitBrainResult
from runner.measure.spans import SpanResult
from runner.text import line as one

_MET = {"met": "yes", "missed": "NO", "inconclusive": "inconclusive"}
OBJECTIVES = {
    "rto": "RTO",
    "rpo": "RPO",
    "failbackRto": "Failback RTO",
    "failbackRpo": "Failback RPO",
    "splitBrain": "Split brain",
    "rejoin": "Rejoin",
}
"""Measurement key -> its row's name, in the order rows are shown."""
KEYS = {v: k for k, v in OBJECTIVES.items()}


def _secs(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f}s"


def _measured(m: Rto | Rpo) -> str:
    """The midpoint, or "> lower" when only a lower bound is known (not recovered)."""
    if m.seconds is None and m.bounds is not None:
        return f"> {_secs(m.bounds.lower)}"
    return _secs(m.seconds)


def objectives_rows(measurements: Measurements) -> list[tuple[str, str, str, str, str]]:
    """(objective, measured, target, met, uncertainty) for RTO and RPO, failover and
    failback, split-brain writes and the rejoin."""
    return [_row(OBJECTIVES[key], m) for key, m in measurements.items()]


def _row(label: str, m: Measurement) -> tuple[str, str, str, str, str]:
    met = _MET.get(m.status.value, "-")
    if isinstance(m, SplitBrainResult):
        return _split_brain_row(label, m)
    if isinstance(m, RejoinResult):
        mode = None if m.facts is None else m.facts.mode.value
        return (label, one(mode or "unknown"), one(m.expect or "-"), met, "-")
    if isinstance(m, LegacyMeasurement) and label in ("Split brain", "Rejoin"):
        return (label, "unknown", "-", met, "-")
    target = m.objective_seconds
    return (
        label,
        _measured(m),
        "-" if target is None else f"<= {target:g}s",
        met,
        "-" if m.uncertainty_seconds is None else f"±{_secs(m.uncertainty_seconds)}",
    )


def _split_brain_row(label: str, m: SplitBrainResult) -> tuple[str, str, str, str, str]:
    c = m.count
    if c is None:
        measured = "unknown"
    elif c.upper is None:
        measured = f">= {c.lower} writes"
    elif c.lower == c.upper:
        measured = f"{c.lower} writes"
    else:
        measured = f"{c.lower}–{c.upper} writes"
    limit = "-" if m.limit is None else f"<= {m.limit} writes"
    return (label, measured, limit, _MET.get(m.status.value, "-"), "-")


def _elapsed(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def _value(v: Any) -> Any:
    return round(v, 2) if isinstance(v, float) else v


def render_text(run: Run, *, record_dir: str | None = None) -> str:
    """A human summary of a run."""
    lines = [
        f"{one(run.status.value).upper()}: {one(run.scenario.name)} (run {one(run.run_id)})",
        f"  {one(run.reason)}".rstrip(),
        "",
    ]
    rows = objectives_rows(run.measurements)
    if rows:
        header = ("objective", "measured", "target", "met", "uncertainty")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
        for r in [header, *rows]:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        for key, m in run.measurements.items():
            if m.explanation:
                lines.append(f"  {OBJECTIVES[key]}: {one(m.explanation)}")
        lines.append("")
    for when, gate in run.steady_state.items():
        failed = [c for c in gate.checks if not c.passed]
        for c in failed:
            lines.append(f"  steady state {one(when)}: {one(c.name)} failed: {one(c.reason)}")
        if failed:
            lines.append("")
    if run.observed is not None and run.observed.to_json():
        parts = [one(f"{k}={_value(v)}") for k, v in run.observed.scalars()]
        lines += ["  observed (ground truth): " + ", ".join(parts)]
        back = run.observed.failback
        if back is not None:
            truth, rejoin = back.continuity, back.rejoin
            items = [
                f"rtoSeconds={_value(back.rto_seconds)}",
                f"acknowledgedWrites={None if truth is None else truth.acknowledged_writes}",
                f"lostWrites={None if truth is None else truth.lost_writes}",
                f"splitBrainWrites={None if truth is None else truth.split_brain_writes}",
                f"rejoin={None if rejoin is None else rejoin.mode.value}",
            ]
            lines.append("  observed failback (ground truth): " + one(", ".join(items)))
        lines.append("")
    latency = None if run.observed is None else run.observed.write_latency
    if latency is not None:
        lines += ["  write latency: " + latency.text(), ""]
    phases = _phase_lines(run)
    if phases:
        lines += ["  RTO phases (seconds from the fault; measured ± uncertainty, observed):"]
        lines += [*phases, ""]
    lines += _extra_lines(run)
    lines.append("  phases:")
    for p in run.phases:
        err = f"  ({one(p.error)})" if p.error else ""
        lines.append(f"    {p.name.value:<18} {p.status.value:<10} {_elapsed(p.seconds):>8}{err}")
    if run.faults:
        lines.append("  faults:")
        for f in run.faults:
            state = "removed" if f.removed else "NOT REMOVED"
            lines.append(f"    {one(f.cluster)}: {one(f.kind)} {one(f.name)} ({state})")
    if record_dir:
        lines += ["", f"  record: {one(record_dir)}"]
        if run.report:
            lines.append(f"  report: {one(record_dir)}/{one(run.report)}")
    return "\n".join(lines)


def _extra_lines(run: Run) -> list[str]:
    """What step recipes add to the record: a test failover's notes and the timings."""
    lines: list[str] = []
    if run.test_failover:
        lines.append("  test failover (what it did instead of the drill):")
        for n in run.test_failover:
            lines.append(f"    {one(n.what)}: {one(n.step)} ({one(n.phase)}): {one(n.reason)}")
        lines.append("")
    if run.timings:
        lines.append("  timings:")
        for t in run.timings:
            lines.append(f"    {one(t.name)}: {_timing(t)} ({one(t.explanation)})")
        lines.append("")
    return lines


def _timing(t: SpanResult) -> str:
    """A timing's midpoint, or "> lower" when only a lower bound is known."""
    if t.seconds is None and t.bounds is not None:
        return f"> {_secs(t.bounds.lower)}"
    return _secs(t.seconds)


def _phase_lines(run: Run) -> list[str]:
    phases = run.rto_phases
    if phases is None:
        return []
    out = []
    for p in phases.phases:
        m, o = p.measured, p.observed
        measured = (
            "-" if m is None else f"{m.midpoint - phases.fault_start:+.2f}s ±{m.uncertainty:.2f}"
        )
        seen = "" if o is None else f"  observed {o - phases.fault_start:+.2f}s"
        out.append(f"    {one(p.label):<32} {measured}{seen}")
    return out
