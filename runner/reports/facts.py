"""Small facts about a run shared by the HTML and Markdown reports: times, durations, output
excerpts, faults grouped by cluster, and the problems worth a line of their own."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from runner.reports.timeline import epoch

EXCERPT_CHARS = 600


def clock(value: Any) -> str:
    """HH:MM:SS.mmm UTC of an ISO time or unix seconds, or '-'."""
    t = float(value) if isinstance(value, int | float) else epoch(value)
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def clock_epoch(value: Any) -> str:
    """HH:MM:SS.mmm of unix seconds (a writer's timestamp), or '-'."""
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%H:%M:%S.%f")[:-3]
    except (TypeError, ValueError, OverflowError, OSError):
        return "-"


def when(value: Any) -> str:
    """YYYY-MM-DD HH:MM:SS UTC of an ISO time, or '-'."""
    t = epoch(value)
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: Any, end: Any) -> str:
    a, b = epoch(start), epoch(end)
    if a is None or b is None:
        return "-"
    return f"{b - a:.1f}s"


def excerpt(output: Any, limit: int = EXCERPT_CHARS) -> str:
    """The end of a step's output (the runner keeps the tail too); says how much was left out."""
    if output is None:
        return ""
    s = str(output)
    if len(s) <= limit:
        return s
    return f"… ({len(s) - limit} earlier characters in run.json)\n{s[-limit:]}"


def faults_by_cluster(run: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for f in run.get("faults") or []:
        out.setdefault(str(f.get("cluster")), []).append(f)
    return out


def problems(run: Mapping[str, Any]) -> list[str]:
    """One line per thing that went wrong: failed checks and steps, breaches, faults left."""
    lines = []
    for when_, gate in (run.get("steadyState") or {}).items():
        for c in gate.get("checks") or []:
            if not c.get("passed"):
                lines.append(f"steady state {when_}: {c.get('name')} failed: {c.get('reason')}")
    for s in run.get("steps") or []:
        if s.get("status") not in ("succeeded", "skipped"):
            what = f"step {s.get('name')} ({s.get('phase')}) {s.get('status')}"
            lines.append(f"{what}: {s['error']}" if s.get("error") else what)
    for g in run.get("guardrails") or []:
        lines.append(
            f"guardrail {g.get('name')} breached at {clock(g.get('breachedAt'))}"
            f" (value {g.get('value')})"
        )
    for f in run.get("faults") or []:
        if not f.get("recoveredAt"):
            lines.append(f"fault {f.get('name')} on {f.get('cluster')} NOT REMOVED")
    return lines


def lost_writes(run: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """(lost writes by canary, the maxLostWrites objective) when the RPO measured them."""
    details = (((run.get("measurements") or {}).get("rpo") or {}).get("details")) or {}
    canary = details.get("canary") or {}
    if "maxLostWrites" not in details and "lostWrites" not in canary:
        return None
    return canary.get("lostWrites"), details.get("maxLostWrites")


def continuity(run: Mapping[str, Any]) -> str | None:
    """One line on the writes of the round trip (the target's ledger, docs/failback.md)."""
    observed = run.get("observed")
    back = observed.get("failback") if isinstance(observed, Mapping) else None
    truth = back.get("continuity") if isinstance(back, Mapping) else None
    if not isinstance(truth, Mapping):
        return None
    lost = [
        f"{p.get('lost')} in {p.get('phase')}"
        for p in truth.get("phases") or []
        if isinstance(p, Mapping) and p.get("lost")
    ]
    return (
        f"{truth.get('acknowledgedWrites')} acknowledged writes, {truth.get('lostWrites')} lost"
        + (f" ({', '.join(lost)})" if lost else "")
        + f", {truth.get('splitBrainWrites')} split-brain ({truth.get('splitBrainLost')} of"
        " them lost)"
    )
