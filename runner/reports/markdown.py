"""The Markdown report of one run, compact enough for a pull-request comment or a chat
message: verdict line, objectives table, problems, phases on one line, faults, and where the
record is. Every value from the record goes through `runner.text.markdown`, so it renders as
text and never as Markdown, HTML, a mention or a link."""

from __future__ import annotations

from runner import text
from runner.journal.files import RunFolder
from runner.journal.run import Run
from runner.reports import exercise, facts
from runner.reports.summary import objectives_rows

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


def _phases(run: Run) -> str:
    parts = []
    for p in run.phases:
        item = f"{md(p.name.value)} {facts.duration(p.started_at, p.finished_at)}"
        if p.status.value != "succeeded":
            item = f"**{item} {md(p.status.value)}**"
        parts.append(item)
    return " → ".join(parts)


def render(folder: RunFolder, *, report_path: str | None = None, signer: str | None = None) -> str:
    """The report; `signer` is the fingerprint of the key signing the evidence pack it goes
    into."""
    run = folder.run
    status = run.status.value
    name = run.scenario.name or "?"
    lines = [
        f"### {_ICONS.get(status, '•')} {md(status.upper())}: {md(name)}",
        "",
        *([md(run.reason), ""] if run.reason else []),
        f"Run {code(folder.run_id)} · {md(facts.when(run.started_at))} · "
        f"{md(facts.duration(run.started_at, run.finished_at))} · "
        f"operator {md(run.operator or '-')}",
        "",
    ]
    lines += _objectives(run)
    lines += _findings(run)
    lines += exercise.markdown(run, folder.events)
    journal = run.journal
    if journal:
        lines += [
            f"**Journal:** {md(journal.entries)} entries, head {code(journal.head)}"
            + (f" · signed evidence pack, Ed25519 key {code(signer)}" if signer else ""),
            "",
        ]
    where = f"Record: {code(folder.dir)}"
    if report_path:
        where += f" · full report: {code(report_path)}"
    lines.append(where)
    return "\n".join(lines) + "\n"


def _objectives(run: Run) -> list[str]:
    """The objectives table (with the canary's lost writes), or that nothing was measured."""
    rows = objectives_rows(run.measurements)
    lost = facts.lost_writes(run)
    if lost is not None:
        count, limit = lost
        ok = None if count is None or limit is None else count <= limit
        rows.append(
            (
                "lost writes",
                "unknown" if count is None else str(count),
                "-" if limit is None else f"<= {limit}",
                "-" if ok is None else ("yes" if ok else "NO"),
                "-",
            )
        )
    if not rows:
        return ["Nothing was measured.", ""]
    lines = [
        "| objective | measured | target | met | uncertainty |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [md(c) for c in row]
        if row[3] == "NO":
            cells[3] = "**NO**"
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _findings(run: Run) -> list[str]:
    """Data continuity, the problems, the phases and the faults, each when there is any."""
    lines: list[str] = []
    continuity = facts.continuity(run)
    if continuity:
        lines += [f"**Data continuity:** {md(continuity)}", ""]
    problems = facts.problems(run)
    if problems:
        lines += [f"- {md(p)}" for p in problems] + [""]
    if run.phases:
        lines += [f"**Phases:** {_phases(run)}", ""]
    groups = facts.faults_by_cluster(run)
    if groups:
        items = []
        for cluster, faults in groups.items():
            for f in faults:
                state = "removed" if f.removed else "**NOT REMOVED**"
                items.append(f"{md(cluster)}: {md(f.kind)} {md(f.fault)} ({state})")
        lines += ["**Faults:** " + "; ".join(items), ""]
    return lines
