"""The exercise sections of a report: compliance (each control and the evidence in the run
for it), deficiencies with owner, due date and closure, approvals and sign-off, in HTML and
in Markdown. Read through `runner.evidence.exercise`; every value is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from runner import text
from runner.evidence import exercise
from runner.journal.entries import iso
from runner.journal.events import AuditEvent
from runner.journal.framing import ExerciseMetadata, ExerciseScope
from runner.journal.run import Run
from runner.reports.page import table
from runner.reports.svg import esc


def _at(t: datetime | None) -> str:
    return iso(t) or ""


def _scope(meta: ExerciseMetadata | None) -> list[tuple[str, str]]:
    if meta is None:
        return []
    scope = meta.scope or ExerciseScope()
    items = [
        ("exercise", meta.id),
        ("systems", ", ".join(scope.systems)),
        ("business-impact tier", scope.tier),
        ("owners", ", ".join(meta.owners)),
        ("controls", ", ".join(meta.controls)),
    ]
    return [(k, str(v)) for k, v in items if v]


def html(run: Run, events: Sequence[AuditEvent]) -> str:
    ex = exercise.read(run, events)
    out = ["<h2>Exercise and compliance</h2>"]
    scope = _scope(ex.metadata)
    if scope:
        out.append(
            '<dl class="meta">'
            + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in scope)
            + "</dl>"
        )
    out.append(_controls_html(ex.controls))
    out.append("<h3>Deficiencies</h3>")
    out.append(_deficiencies_html(ex.deficiencies))
    out.append("<h3>Approvals</h3>")
    out.append(
        table(
            ["when", "who", "what", "subject", "how", "comment"],
            [[_at(a.at), a.by, a.what, a.subject, a.how, a.comment] for a in ex.approvals],
        )
        if ex.approvals
        else '<p class="muted">No approval was needed.</p>'
    )
    out.append("<h3>Sign-off</h3>")
    out.append(
        table(
            ["when", "who", "verdict signed", "comment"],
            [[_at(s.at), s.by, s.status, s.comment] for s in ex.signoffs],
        )
        if ex.signoffs
        else '<p class="muted">Not signed off yet (drillctl evidence sign-off).</p>'
    )
    return "\n".join(out)


def _controls_html(controls: Sequence[exercise.Control]) -> str:
    """Each control with the run's verdict and evidence for it, or that none is declared."""
    if not controls:
        return '<p class="muted">No controls declared (spec.exercise.controls).</p>'
    rows = []
    for c in controls:
        evidence = "; ".join(f"{o} {m} (target {t}): {s}" for o, m, t, s in c.objectives)
        rows.append(
            [
                c.id,
                c.verdict,
                evidence or "nothing measured",
                str(c.open_deficiencies),
                "yes" if c.signed_off else "no",
            ]
        )
    return table(["control", "run verdict", "evidence", "open deficiencies", "signed off"], rows)


def _deficiencies_html(deficiencies: Sequence[exercise.Deficiency]) -> str:
    """Each deficiency with its owner, due date and state, or that there is none."""
    if not deficiencies:
        return '<p class="muted">None: every objective met, every step succeeded.</p>'
    return table(
        ["id", "kind", "subject", "what", "owner", "due", "state"],
        [
            [
                d.id,
                d.finding.kind,
                d.finding.subject,
                d.finding.description,
                d.owner or "-",
                d.due or "-",
                "open" if d.is_open else f"closed by {d.resolved_by}",
            ]
            for d in deficiencies
        ],
    )


def markdown(run: Run, events: Sequence[AuditEvent]) -> list[str]:
    ex = exercise.read(run, events)
    md = text.markdown
    lines: list[str] = []
    scope = _scope(ex.metadata)
    if scope:
        lines += ["**Exercise:** " + " · ".join(f"{md(k)}: {md(v)}" for k, v in scope), ""]
    for c in ex.controls:
        evidence = "; ".join(f"{o} {m} (target {t}): {s}" for o, m, t, s in c.objectives)
        lines.append(
            f"- control {md(c.id)}: run {md(c.verdict)}; {md(evidence or 'nothing measured')}; "
            f"{c.open_deficiencies} open deficiencies; "
            f"signed off: {'yes' if c.signed_off else 'no'}"
        )
    if ex.controls:
        lines.append("")
    open_items = [d for d in ex.deficiencies if d.is_open]
    if ex.deficiencies:
        lines.append(
            f"**Deficiencies:** {len(open_items)} open of {len(ex.deficiencies)}: "
            + "; ".join(
                f"{md(d.id)} ({'open' if d.is_open else 'closed by ' + md(d.resolved_by)}"
                + (f", owner {md(d.owner)}" if d.owner else "")
                + (f", due {md(d.due)}" if d.due else "")
                + ")"
                for d in ex.deficiencies
            )
        )
        lines.append("")
    if ex.approvals:
        lines += [
            "**Approvals:** "
            + "; ".join(f"{md(a.what)} {md(a.subject)} by {md(a.by)}" for a in ex.approvals),
            "",
        ]
    if ex.signoffs:
        lines += [
            "**Signed off:** "
            + "; ".join(
                f"{md(s.by)} at {md(_at(s.at))}" + (f": {md(s.comment)}" if s.comment else "")
                for s in ex.signoffs
            ),
            "",
        ]
    return lines


def open_deficiencies(
    runs: Sequence[Run], results_dir: Path, scenario: str | None = None
) -> dict[str, list[tuple[str, exercise.Deficiency]]]:
    """Per scenario, the open deficiencies of every run under `results_dir` (oldest first)."""
    from runner.journal.files import read_events
    from runner.records.results import RUN_ID_RE

    out: dict[str, list[tuple[str, exercise.Deficiency]]] = {}
    for run in runs:
        name = run.scenario.name or "?"
        run_id = run.run_id
        if (scenario is not None and name != scenario) or not RUN_ID_RE.match(run_id):
            continue
        ex = exercise.read(run, read_events(results_dir / run_id))
        items = [(run_id, d) for d in ex.deficiencies if d.is_open]
        if items:
            out.setdefault(name, []).extend(items)
    return out


def open_text(found: Mapping[str, Sequence[tuple[str, exercise.Deficiency]]]) -> str:
    """Terminal lines: every value a `runner.text.line`."""
    line = text.line
    if not found:
        return "open deficiencies: none"
    lines = []
    for name, items in found.items():
        lines.append(f"open deficiencies of {line(name)}: {len(items)}")
        for run_id, d in items:
            who = f"owner {line(d.owner)}" if d.owner else "no owner"
            due = f", due {line(d.due)}" if d.due else ""
            lines.append(
                f"  {line(run_id)} {line(d.id)} ({who}{due}): {line(d.finding.description)}"
            )
    return "\n".join(lines)
