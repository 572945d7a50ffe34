"""The Markdown report of one run, compact enough for a pull-request comment or a chat
message: verdict line, objectives table, problems, phases on one line, faults, and where the
record is. Every value from the record goes through `runner.text.markdown`, so it renders as
text and never as Markdown, HTML, a mention or a link."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner import text
from runner.records.summary import objectives_rows
from runner.reports import exercise, facts
from runner.reports.record import RunFolder

_ICONS = {
    "passed": "✅",
    "failed": "❌",
    "inconclusive": "⚠️",
    "aborted": "⏹️",
    "error": "⛔",
    "crashed": "💥",
}
md = text.markdown
code = text.markdown_code


def _phases(run: Mapping[str, Any]) -> str:
    parts = []
    for p in run.get("phases") or []:
        item = f"{md(p.get('name'))} {facts.duration(p.get('startedAt'), p.get('finishedAt'))}"
        if p.get("status") != "succeeded":
            item = f"**{item} {md(p.get('status'))}**"
        parts.append(item)
    return " → ".join(parts)


def render(folder: RunFolder, *, report_path: str | None = None, signer: str | None = None) -> str:
    """The report; `signer` is the fingerprint of the key signing the evidence pack it goes
    into."""
    run = folder.run
    status = str(run.get("status") or "unknown")
    name = (run.get("scenario") or {}).get("name") or "?"
    lines = [
        f"### {_ICONS.get(status, '•')} {md(status.upper())}: {md(name)}",
        "",
        *([md(run["reason"]), ""] if run.get("reason") else []),
        f"Run {code(folder.run_id)} · {md(facts.when(run.get('startedAt')))} · "
        f"{md(facts.duration(run.get('startedAt'), run.get('finishedAt')))} · "
        f"operator {md(run.get('operator') or '-')}",
        "",
    ]
    rows = objectives_rows(run)
    lost = facts.lost_writes(run)
    if lost is not None:
        count, limit = lost
        ok = None if count is None or limit is None else int(count) <= int(limit)
        rows.append(
            (
                "lost writes",
                "unknown" if count is None else str(count),
                "-" if limit is None else f"<= {limit}",
                "-" if ok is None else ("yes" if ok else "NO"),
                "-",
            )
        )
    if rows:
        lines += [
            "| objective | measured | target | met | uncertainty |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in rows:
            cells = [md(c) for c in row]
            if row[3] == "NO":
                cells[3] = "**NO**"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    else:
        lines += ["Nothing was measured.", ""]
    continuity = facts.continuity(run)
    if continuity:
        lines += [f"**Data continuity:** {md(continuity)}", ""]
    problems = facts.problems(run)
    if problems:
        lines += [f"- {md(p)}" for p in problems] + [""]
    if run.get("phases"):
        lines += [f"**Phases:** {_phases(run)}", ""]
    groups = facts.faults_by_cluster(run)
    if groups:
        items = []
        for cluster, faults in groups.items():
            for f in faults:
                state = "removed" if f.get("recoveredAt") else "**NOT REMOVED**"
                items.append(f"{md(cluster)}: {md(f.get('kind'))} {md(f.get('fault'))} ({state})")
        lines += ["**Faults:** " + "; ".join(items), ""]
    lines += exercise.markdown(run, folder.events)
    journal = run.get("journal") or {}
    if journal:
        lines += [
            f"**Journal:** {md(journal.get('entries'))} entries, head {code(journal.get('head'))}"
            + (f" · signed evidence pack, Ed25519 key {code(signer)}" if signer else ""),
            "",
        ]
    where = f"Record: {code(folder.dir)}"
    if report_path:
        where += f" · full report: {code(report_path)}"
    lines.append(where)
    return "\n".join(lines) + "\n"
