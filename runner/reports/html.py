"""The HTML report of one run: one self-contained file (inline CSS and SVG, no script, no
external asset) with the verdict banner, objectives, the timeline chart, phases, steady-state
checks, steps with output excerpts, faults per cluster and the audit trail."""

from __future__ import annotations

import json
from typing import Any

from runner.journal.events import AuditEvent
from runner.journal.files import RunFolder
from runner.journal.observed import ContinuityTruth
from runner.journal.run import Run
from runner.measure.failback import SplitBrainResult
from runner.reports import exercise, facts, timeline, timeline_chart
from runner.reports.page import document, table, verdict_colours
from runner.reports.summary import objectives_rows
from runner.reports.svg import esc

_MET_CLASS = {"yes": "met-yes", "NO": "met-no", "inconclusive": "met-unknown"}


def _cell(value: Any, cls: str | None = None) -> str:
    return f'<span class="{esc(cls)}">{esc(value)}</span>' if cls else esc(value)


def _banner(run: Run) -> str:
    status = run.status.value
    bg, fg = verdict_colours(status)
    name = run.scenario.name or "?"
    return (
        f'<header class="banner verdict-{esc(status)}" style="background:{bg};color:{fg}">'
        f"<h1>{esc(status.upper())}: {esc(name)}</h1>"
        f"<p>{esc(run.reason)}</p>"
        f"<p>run {esc(run.run_id)} · {esc(facts.when(run.started_at))}"
        f" · {esc(facts.duration(run.started_at, run.finished_at))}</p></header>"
    )


def _meta(folder: RunFolder) -> str:
    run = folder.run
    items = [
        ("run", run.run_id),
        ("scenario", f"{run.scenario.name} ({run.scenario.path})"),
        ("drill", f"{run.drill.name} ({run.drill.path})"),
        ("operator", run.operator),
        ("started", facts.when(run.started_at)),
        ("finished", facts.when(run.finished_at)),
        ("targets", ", ".join(f"{k}: {v}" for k, v in run.targets.items())),
        ("runner", f"{run.runner_version} on {run.host}"),
        ("record", str(folder.dir)),
    ]
    return (
        '<dl class="meta">'
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v if v is not None else '-')}</dd>" for k, v in items)
        + "</dl>"
    )


def _objectives(run: Run) -> str:
    rows = _objective_rows(run)
    if not rows:
        return '<p class="muted">Nothing was measured in this run.</p>'
    out = table(
        ["objective", "measured", "target", "met", "uncertainty", "method", "explanation"],
        rows,
        raw=True,
    )
    return out + _rto_details(run) + _objective_notes(run)


def _objective_rows(run: Run) -> list[list[str]]:
    """One row per measurement, and the canary's lost writes when the run counted them."""
    rows = []
    measured_items = run.measurements.items()
    for (_, m), (objective, measured, target, met, uncertainty) in zip(
        measured_items, objectives_rows(run.measurements), strict=True
    ):
        rows.append(
            [
                esc(objective),
                esc(measured),
                esc(target),
                _cell(met, _MET_CLASS.get(met)),
                esc(uncertainty),
                esc(getattr(m, "method", None) or "-"),
                esc(m.explanation),
            ]
        )
    lost = facts.lost_writes(run)
    if lost is not None:
        count, limit = lost
        ok = None if count is None or limit is None else count <= limit
        met = "-" if ok is None else ("yes" if ok else "NO")
        rows.append(
            [
                "lost writes (canary)",
                esc("unknown" if count is None else count),
                esc("-" if limit is None else f"<= {limit}"),
                _cell(met, _MET_CLASS.get(met)),
                "-",
                "canary",
                "acknowledged writes missing from the new primary",
            ]
        )
    return rows


def _rto_details(run: Run) -> str:
    """Time to detect, time to failover and the outages of the RTO, when measured."""
    rto = run.measurements.rto
    extra = []
    if rto is not None and rto.time_to_detect_seconds is not None:
        extra.append(f"time to detect {_r(rto.time_to_detect_seconds)}s")
    if rto is not None and rto.time_to_failover_seconds is not None:
        extra.append(f"time to failover {_r(rto.time_to_failover_seconds)}s")
    if rto is not None and rto.outages:
        extra.append(
            "outages: "
            + ", ".join(
                f"{_ms_clock(o.start)}–{_ms_clock(o.end)} ({_r(o.seconds)}s)" for o in rto.outages
            )
        )
    return f"<p>RTO details: {esc('; '.join(extra))}</p>" if extra else ""


def _objective_notes(run: Run) -> str:
    """The lab's ground truth, the RTO phases and the write latency, when the run has them."""
    out = ""
    observed = run.observed
    if observed is not None and observed.scalars():
        parts = [f"{k} = {v}" for k, v in observed.scalars()]
        out += f"<p>Observed by the lab (ground truth): {esc(', '.join(parts))}</p>"
    phases = facts.rto_phases(run)
    if phases:
        out += "<h3>RTO phases</h3>" + table(
            ["phase", "measured (s from fault)", "uncertainty", "observed (s)", "how"],
            [[esc(c) for c in row] for row in phases],
            raw=True,
        )
    latency = facts.write_latency(run)
    if latency:
        out += f"<p>Write latency (same run, before the fault): {esc(latency)}</p>"
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _ms_clock(value: int | None) -> str:
    return facts.clock(None if value is None else value / 1000)


def _continuity(run: Run) -> str:
    """Lost and split-brain writes per phase: as measured, and as the target saw them."""
    out = []
    rows = _measured_continuity(run)
    if rows:
        out.append(table(["measured", "writes"], rows, raw=True))
    back = None if run.observed is None else run.observed.failback
    truth = None if back is None else back.continuity
    if truth is not None:
        out.extend(_observed_continuity(truth))
    if not out:
        return ""
    return "<h2>Data continuity</h2>" + "".join(out)


def _measured_continuity(run: Run) -> list[list[str]]:
    """Lost writes at failover and failback by the canary, split-brain writes by phase."""
    m = run.measurements
    rows = []
    for rpo, what in (
        (m.rpo, "acknowledged by the old primary, missing on the new one (at failover)"),
        (m.failback_rpo, "acknowledged by the secondary, missing after failback"),
    ):
        canary = None if rpo is None else rpo.canary
        if canary is not None:
            lost = canary.lost_writes
            rows.append([esc(what), esc("unknown" if lost is None else lost)])
    if isinstance(m.split_brain, SplitBrainResult):
        for phase, n in m.split_brain.phases:
            count = (
                f"{n.lower}"
                if n.lower == n.upper
                else f"{n.lower}–{'?' if n.upper is None else n.upper}"
            )
            rows.append([esc(f"split-brain writes during {phase}"), esc(count)])
    return rows


def _observed_continuity(truth: ContinuityTruth) -> list[str]:
    """What the target saw: totals, a table by phase and the lost and split-brain writes."""
    out = [
        f"<p>Observed by the target: {esc(truth.acknowledged_writes)} acknowledged"
        f" writes, {esc(truth.lost_writes)} lost,"
        f" {esc(truth.split_brain_writes)} split-brain"
        f" ({esc(truth.split_brain_lost)} of them lost).</p>",
        table(
            [
                "phase (acknowledged in)",
                "acknowledged",
                "lost",
                "split-brain",
                "split-brain lost",
            ],
            [
                [
                    p.phase,
                    *map(str, (p.acknowledged, p.lost, p.split_brain, p.split_brain_lost)),
                ]
                for p in truth.phases
            ],
        ),
    ]
    listed = [
        [w.phase, w.site, str(w.seq), facts.clock_epoch(w.ts), "lost"] for w in truth.lost
    ] + [
        [w.phase, w.site, str(w.seq), facts.clock_epoch(w.ts), "split-brain, kept"]
        for w in truth.split_brain
        if not w.lost
    ]
    if listed:
        out.append(
            "<details><summary>Lost and split-brain writes (first 50 of each)</summary>"
            + table(["phase", "site", "seq", "writer's time (UTC)", "what"], listed)
            + "</details>"
        )
    return out


def _timeline(run: Run) -> str:
    tl = timeline.build(run)
    rpo = run.measurements.rpo
    chart = timeline_chart.render(tl, rpo_objective=None if rpo is None else rpo.objective_seconds)
    note = (
        ""
        if tl.has_series
        else '<p class="muted">No measurement series were recorded in this run '
        "(it stopped before the measurement); only the phases are shown.</p>"
    )
    legend = (
        '<p class="legend">'
        + "".join(
            f'<span><i class="swatch" style="background:{timeline_chart.phase_colour(p.name)}"></i>'
            f"{esc(p.name)}</span>"
            for p in tl.phases
        )
        + "</p>"
    )
    marks = table(
        ["moment", "time (UTC)", "from fault"],
        [
            [
                m.label,
                facts.clock(m.at),
                f"{m.at - tl.origin:+.2f}s" if tl.origin_label.endswith("injection") else "-",
            ]
            for m in tl.markers
        ],
    )
    lines = [f"SLI: {line.label}" for line in tl.sli] + [f"lag: {line.label}" for line in tl.lag]
    queries = f'<p class="muted">{esc("; ".join(lines))}</p>' if lines else ""
    return note + chart + legend + queries + (marks if tl.markers else "")


def _phases(run: Run) -> str:
    return table(
        ["phase", "status", "started", "duration", "error"],
        [
            [
                p.name.value,
                p.status.value,
                facts.clock(p.started_at),
                facts.duration(p.started_at, p.finished_at),
                p.error or "",
            ]
            for p in run.phases
        ],
    )


def _steady_state(run: Run) -> str:
    rows = []
    for when, gate in run.steady_state.items():
        for c in gate.checks:
            ok = "yes" if c.passed else "NO"
            rows.append(
                [
                    esc(when),
                    esc(c.name),
                    f"<code>{esc(c.query)}</code> {esc(c.expect)}",
                    _cell(ok, _MET_CLASS[ok]),
                    esc(c.reason),
                ]
            )
    if not rows:
        return '<p class="muted">No steady-state checks ran.</p>'
    return table(["when", "check", "query", "passed", "reason"], rows, raw=True)


def _steps(run: Run) -> str:
    rows = []
    for s in run.steps:
        status = s.status.value
        output = facts.excerpt(s.output)
        error = s.error
        rows.append(
            [
                esc(s.phase),
                esc(s.name),
                f"<code>{esc(s.action)}</code>",
                esc(s.cluster or "-"),
                _cell(status, "met-yes" if status == "succeeded" else "met-no"),
                esc(s.attempts),
                esc(facts.duration(s.started_at, s.finished_at)),
                (f"<pre><code>{esc(output)}</code></pre>" if output else "")
                + (f'<pre class="met-no"><code>{esc(error)}</code></pre>' if error else ""),
            ]
        )
    if not rows:
        return '<p class="muted">No failover or failback step ran.</p>'
    return table(
        ["phase", "step", "action", "cluster", "status", "attempts", "duration", "output"],
        rows,
        raw=True,
    )


def _faults(run: Run) -> str:
    groups = facts.faults_by_cluster(run)
    if not groups:
        return '<p class="muted">No fault was created.</p>'
    out = []
    for cluster, faults in groups.items():
        rows = []
        for f in faults:
            removed = f.recovered_at
            rows.append(
                [
                    esc(f.fault),
                    esc(f.kind),
                    esc(f.name),
                    esc(f.namespace or "-"),
                    esc(facts.clock(f.injected_at)),
                    esc(facts.clock(removed)) if removed else _cell("NOT REMOVED", "met-no"),
                    esc("yes" if f.one_shot else "no"),
                ]
            )
        target = run.targets.get(cluster)
        out.append(
            f"<h3>{esc(cluster)}" + (f" <small>({esc(target)})</small>" if target else "") + "</h3>"
        )
        out.append(
            table(
                ["fault", "kind", "name", "namespace", "injected", "removed", "one-shot"],
                rows,
                raw=True,
            )
        )
    return "".join(out)


def _events(events: tuple[AuditEvent, ...]) -> str:
    if not events:
        return '<p class="muted">No audit trail (events.jsonl) in the record.</p>'
    return table(
        ["time (UTC)", "actor", "action", "target", "details"],
        [
            [
                esc(facts.clock(e.time)),
                esc(e.actor),
                f"<code>{esc(e.action)}</code>",
                esc(e.target),
                f"<code>{esc(json.dumps(e.details, default=str))}</code>" if e.details else "",
            ]
            for e in events
        ],
        raw=True,
    )


def _evidence(run: Run, signer: str | None) -> str:
    journal = run.journal
    items = [
        (
            "journal",
            f"{journal.entries} entries, head {journal.head}"
            if journal
            else "not hash-chained (recorded before tamper evidence)",
        ),
    ]
    if signer:
        items.append(("signed evidence pack", f"Ed25519 key {signer}"))
    return (
        '<dl class="meta">'
        + "".join(f"<dt>{esc(k)}</dt><dd><code>{esc(v)}</code></dd>" for k, v in items)
        + "</dl>"
    )


def render(folder: RunFolder, *, signer: str | None = None) -> str:
    """The report; `signer` is the fingerprint of the key signing the evidence pack it goes
    into."""
    run = folder.run
    problems = facts.problems(run)
    sections = [
        _banner(run),
        _meta(folder),
        "<h2>Objectives</h2>",
        _objectives(run),
    ]
    if continuity := _continuity(run):
        sections.append(continuity)
    if problems:
        sections += [
            "<h2>Problems</h2>",
            "<ul>" + "".join(f"<li>{esc(p)}</li>" for p in problems) + "</ul>",
        ]
    sections += [
        "<h2>Timeline</h2>",
        _timeline(run),
        "<h2>Phases</h2>",
        _phases(run),
        "<h2>Steady state</h2>",
        _steady_state(run),
        "<h2>Steps</h2>",
        _steps(run),
        "<h2>Faults</h2>",
        _faults(run),
        exercise.html(run, folder.events),
        "<h2>Audit trail</h2>",
        _events(folder.events),
        "<h2>Evidence</h2>",
        _evidence(run, signer),
        f'<p class="muted">Generated by drillctl report from {esc(folder.dir / "run.json")}.</p>',
    ]
    name = run.scenario.name or "?"
    return document(f"{run.status.value.upper()}: {name} ({folder.run_id})", sections)
