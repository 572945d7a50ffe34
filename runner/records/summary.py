"""The plain-text summary of a run record, shared by `drillctl run`, `drillctl report` and the
pytest plugin: verdict, objectives table, phase timeline, faults, where the record is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def _secs(value: Any) -> str:
    return "unknown" if value is None else f"{float(value):.1f}s"


def _measured(m: Mapping[str, Any]) -> str:
    """The midpoint, or "> lower" when only a lower bound is known (not recovered)."""
    if m.get("seconds") is None and m.get("lowerSeconds") is not None:
        return f"> {float(m['lowerSeconds']):.1f}s"
    return _secs(m.get("seconds"))


def objectives_rows(run: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(objective, measured, target, met, uncertainty) for RTO and RPO."""
    rows = []
    for key in ("rto", "rpo"):
        m = (run.get("measurements") or {}).get(key)
        if not m:
            continue
        target = m.get("objectiveSeconds")
        met = {"met": "yes", "missed": "NO", "inconclusive": "inconclusive"}.get(
            str(m.get("status")), "-"
        )
        rows.append(
            (
                key.upper(),
                _measured(m),
                "-" if target is None else f"<= {float(target):g}s",
                met,
                "-"
                if m.get("uncertaintySeconds") is None
                else f"±{float(m['uncertaintySeconds']):.1f}s",
            )
        )
    return rows


def _elapsed(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return f"{seconds:.1f}s"


def render_text(run: Mapping[str, Any], *, record_dir: str | None = None) -> str:
    """A human summary of a run.json."""
    status = str(run.get("status", "?")).upper()
    lines = [
        f"{status}: {run.get('scenario', {}).get('name')} (run {run.get('runId')})",
        f"  {run.get('reason') or ''}".rstrip(),
        "",
    ]
    rows = objectives_rows(run)
    if rows:
        header = ("objective", "measured", "target", "met", "uncertainty")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
        for r in [header, *rows]:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        for key in ("rto", "rpo"):
            m = (run.get("measurements") or {}).get(key)
            if m and m.get("explanation"):
                lines.append(f"  {key.upper()}: {m['explanation']}")
        lines.append("")
    for when, gate in (run.get("steadyState") or {}).items():
        failed = [c for c in gate.get("checks", []) if not c.get("passed")]
        for c in failed:
            lines.append(f"  steady state {when}: {c.get('name')} failed: {c.get('reason')}")
        if failed:
            lines.append("")
    observed = run.get("observed")
    if observed:
        parts = [
            f"{k}={round(v, 2) if isinstance(v, float) else v}"
            for k, v in observed.items()
            if not isinstance(v, dict | list)
        ]
        lines += ["  observed (ground truth): " + ", ".join(parts), ""]
    lines.append("  phases:")
    for p in run.get("phases", []):
        err = f"  ({p['error']})" if p.get("error") else ""
        lines.append(
            f"    {p['name']:<18} {p['status']:<10} "
            f"{_elapsed(p.get('startedAt'), p.get('finishedAt')):>8}{err}"
        )
    faults = run.get("faults", [])
    if faults:
        lines.append("  faults:")
        for f in faults:
            state = "removed" if f.get("recoveredAt") else "NOT REMOVED"
            lines.append(f"    {f['cluster']}: {f['kind']} {f['name']} ({state})")
    if record_dir:
        lines += ["", f"  record: {record_dir}"]
        if run.get("report"):
            lines.append(f"  report: {record_dir}/{run['report']}")
    return "\n".join(lines)
