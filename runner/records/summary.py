"""The plain-text summary of a run record, shared by `drillctl run`, `drillctl report` and the
pytest plugin: verdict, objectives table, phase timeline, faults, where the record is.

It is terminal text: every value from the record is one `runner.text.line` (no escape
sequence, and no line of its own: a newline in a value shows as `\\n`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from runner.text import line as one


def _secs(value: Any) -> str:
    try:
        return "unknown" if value is None else f"{float(value):.1f}s"
    except (TypeError, ValueError):
        return one(value)


def _measured(m: Mapping[str, Any]) -> str:
    """The midpoint, or "> lower" when only a lower bound is known (not recovered)."""
    if m.get("seconds") is None and m.get("lowerSeconds") is not None:
        return f"> {_secs(m['lowerSeconds'])}"
    return _secs(m.get("seconds"))


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


def _met(m: Mapping[str, Any]) -> str:
    return {"met": "yes", "missed": "NO", "inconclusive": "inconclusive"}.get(
        str(m.get("status")), "-"
    )


def objectives_rows(run: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(objective, measured, target, met, uncertainty) for RTO and RPO, failover and
    failback, split-brain writes and the rejoin."""
    rows = []
    for key, label in OBJECTIVES.items():
        m = (run.get("measurements") or {}).get(key)
        if not isinstance(m, Mapping) or not m:
            continue
        if key == "splitBrain":
            rows.append(_split_brain_row(label, m))
            continue
        if key == "rejoin":
            mode = (m.get("details") or {}).get("mode") if m.get("details") else None
            rows.append((label, one(mode or "unknown"), one(m.get("expect") or "-"), _met(m), "-"))
            continue
        target = m.get("objectiveSeconds")
        rows.append(
            (
                label,
                _measured(m),
                "-" if target is None else f"<= {_num(target)}s",
                _met(m),
                "-"
                if m.get("uncertaintySeconds") is None
                else f"±{_secs(m['uncertaintySeconds'])}",
            )
        )
    return rows


def _split_brain_row(label: str, m: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    lower, upper = m.get("lowerWrites"), m.get("upperWrites")
    if lower is None:
        measured = "unknown"
    elif upper is None:
        measured = f">= {one(lower)} writes"
    elif lower == upper:
        measured = f"{one(lower)} writes"
    else:
        measured = f"{one(lower)}–{one(upper)} writes"
    limit = m.get("objectiveWrites")
    return (label, measured, "-" if limit is None else f"<= {one(limit)} writes", _met(m), "-")


def _num(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return one(value)


def _elapsed(start: Any, end: Any) -> str:
    if not start or not end:
        return "-"
    try:
        seconds = (
            datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))
        ).total_seconds()
    except (TypeError, ValueError):
        return "?"
    return f"{seconds:.1f}s"


def render_text(run: Mapping[str, Any], *, record_dir: str | None = None) -> str:
    """A human summary of a run.json."""
    status = one(run.get("status", "?")).upper()
    scenario = run.get("scenario")
    scenario = scenario if isinstance(scenario, Mapping) else {}
    lines = [
        f"{status}: {one(scenario.get('name'))} (run {one(run.get('runId'))})",
        f"  {one(run.get('reason') or '')}".rstrip(),
        "",
    ]
    rows = objectives_rows(run)
    if rows:
        header = ("objective", "measured", "target", "met", "uncertainty")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
        for r in [header, *rows]:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        for key, label in OBJECTIVES.items():
            m = (run.get("measurements") or {}).get(key)
            if isinstance(m, Mapping) and m.get("explanation"):
                lines.append(f"  {label}: {one(m['explanation'])}")
        lines.append("")
    for when, gate in (run.get("steadyState") or {}).items():
        failed = [c for c in gate.get("checks", []) if not c.get("passed")]
        for c in failed:
            lines.append(
                f"  steady state {one(when)}: {one(c.get('name'))} failed: {one(c.get('reason'))}"
            )
        if failed:
            lines.append("")
    observed = run.get("observed")
    if observed:
        parts = [
            one(f"{k}={round(v, 2) if isinstance(v, float) else v}")
            for k, v in observed.items()
            if not isinstance(v, dict | list)
        ]
        lines += ["  observed (ground truth): " + ", ".join(parts)]
        back = observed.get("failback") if isinstance(observed, Mapping) else None
        if isinstance(back, Mapping):
            found, facts = back.get("continuity"), back.get("rejoin")
            truth: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
            rejoin: Mapping[str, Any] = facts if isinstance(facts, Mapping) else {}
            seconds = back.get("rtoSeconds")
            items = [
                f"rtoSeconds={round(seconds, 2) if isinstance(seconds, float) else seconds}",
                f"acknowledgedWrites={truth.get('acknowledgedWrites')}",
                f"lostWrites={truth.get('lostWrites')}",
                f"splitBrainWrites={truth.get('splitBrainWrites')}",
                f"rejoin={rejoin.get('mode')}",
            ]
            lines.append("  observed failback (ground truth): " + one(", ".join(items)))
        lines.append("")
    notes = run.get("testFailover")
    if isinstance(notes, list) and notes:
        lines.append("  test failover (what it did instead of the drill):")
        for n in notes:
            if isinstance(n, Mapping):
                lines.append(
                    f"    {one(n.get('what'))}: {one(n.get('step'))} ({one(n.get('phase'))}): "
                    f"{one(n.get('reason'))}"
                )
        lines.append("")
    timings = run.get("timings")
    if isinstance(timings, list) and timings:
        lines.append("  timings:")
        for t in timings:
            if isinstance(t, Mapping):
                lines.append(
                    f"    {one(t.get('name'))}: {_measured(t)} ({one(t.get('explanation'))})"
                )
        lines.append("")
    lines.append("  phases:")
    for p in run.get("phases", []):
        err = f"  ({one(p['error'])})" if p.get("error") else ""
        lines.append(
            f"    {one(p.get('name')):<18} {one(p.get('status')):<10} "
            f"{_elapsed(p.get('startedAt'), p.get('finishedAt')):>8}{err}"
        )
    faults = run.get("faults", [])
    if faults:
        lines.append("  faults:")
        for f in faults:
            state = "removed" if f.get("recoveredAt") else "NOT REMOVED"
            lines.append(
                f"    {one(f.get('cluster'))}: {one(f.get('kind'))} {one(f.get('name'))} ({state})"
            )
    if record_dir:
        lines += ["", f"  record: {one(record_dir)}"]
        if run.get("report"):
            lines.append(f"  report: {one(record_dir)}/{one(run['report'])}")
    return "\n".join(lines)
