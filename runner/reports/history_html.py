"""The HTML history page: per scenario, a trend chart for RTO and for RPO and the table of
runs with regressions flagged. Self-contained like the run report."""

from __future__ import annotations

from collections.abc import Sequence

from runner.reports import trend_chart
from runner.reports.history import METRICS, Rules, ScenarioHistory, Value, name, shown_metrics
from runner.reports.page import document, table, verdict_colours
from runner.reports.svg import esc


def _value(v: Value | None) -> str:
    if v is None:
        return "-"
    if v.seconds is None:
        return f'<span class="met-unknown">{esc(v.status)}</span>'
    cls = {"met": "met-yes", "missed": "met-no"}.get(v.status, "")
    text = f"{v.seconds:.1f}s ±{v.uncertainty:.1f}s"
    if v.objective is not None:
        text += f" (≤ {v.objective:g}s {v.status})"
    flag = f' <span class="flag">▲ {esc(", ".join(v.flags))}</span>' if v.flags else ""
    return f'<span class="{cls}">{esc(text)}</span>{flag}'


def _section(h: ScenarioHistory) -> list[str]:
    out = [f"<h2>{esc(h.scenario)}</h2>"]
    if h.regressions:
        out.append(
            '<ul class="flag">'
            + "".join(
                f"<li>Regression: {esc(g.message)} (run {esc(g.run_id)})</li>"
                for g in h.regressions
            )
            + "</ul>"
        )
    else:
        out.append('<p class="muted">No regression in the latest measured run.</p>')
    for metric in METRICS:
        if any(metric in r.values for r in h.rows):
            out.append(trend_chart.render(h.rows, metric))
    rows = []
    shown = shown_metrics(h)
    for i, r in enumerate(h.rows):
        bg, fg = verdict_colours(r.status)
        rows.append(
            [
                esc(f"#{i + 1}"),
                esc(r.started_at[:19].replace("T", " ")),
                esc(r.run_id),
                f'<span class="pill" style="background:{bg};color:{fg}">{esc(r.status)}</span>',
                *(_value(r.values.get(m)) for m in shown),
                esc(r.reason),
            ]
        )
    headers = ["#", "started (UTC)", "run", "status", *(name(m) for m in shown), "reason"]
    out.append(table(headers, rows, raw=True))
    return out


def render(histories: Sequence[ScenarioHistory], *, source: str, rules: Rules | None = None) -> str:
    r = rules or Rules()
    body = ["<h1>Drill history</h1>", f'<p class="muted">Runs from {esc(source)}.</p>']
    if not histories:
        body.append("<p>No runs found.</p>")
    for h in histories:
        body += _section(h)
    body.append(
        f'<p class="muted">Regressions: a value above the median of up to {r.window} earlier '
        f"measured runs (at least {r.min_previous}) by more than its uncertainty plus "
        f"max({r.margin_seconds:g}s, {r.margin_fraction:.0%} of the median), or rising in each "
        f"of the last {r.rising_runs} measured runs by more than their uncertainties plus "
        f"{r.margin_seconds:g}s in all (docs/reports.md).</p>"
    )
    return document("Drill history", body)
