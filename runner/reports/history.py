"""Every run of a scenario over time: RTO and RPO, failover and failback, against their
objectives, and regressions.

A regression is judged per objective (RTO, RPO, failback RTO, failback RPO) on the runs
that measured a value (runs whose measurement was inconclusive, aborted or errored are
listed but never judged), and
for each such run as of that run, so a trend chart can show where a regression appeared:

* **above median**: the value is above the median of up to `window` earlier measured values
  (at least `min_previous` of them) by more than its own uncertainty plus a margin,
  `max(margin_seconds, margin_fraction × median)`;
* **rising**: the value is the last of `rising_runs` measured values that each rose, and the
  total rise is more than the first and last values' uncertainties plus `margin_seconds`.

`regressions` of a scenario are the flags on its latest measured run: what needs attention
now. Definitions and defaults are documented in docs/reports.md.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from runner.journal.entries import Rpo, Rto, iso
from runner.journal.run import Run
from runner.text import line as one

METRICS = ("rto", "rpo", "failbackRto", "failbackRpo")
NAMES = {"rto": "RTO", "rpo": "RPO", "failbackRto": "failback RTO", "failbackRpo": "failback RPO"}


def name(metric: str) -> str:
    return NAMES.get(metric, metric.upper())


@dataclass(frozen=True)
class Rules:
    window: int = 10
    min_previous: int = 3
    margin_seconds: float = 1.0
    margin_fraction: float = 0.1
    rising_runs: int = 3


@dataclass(frozen=True)
class Value:
    """One run's measurement of one objective."""

    seconds: float | None
    uncertainty: float
    objective: float | None
    status: str
    """met, missed, inconclusive, no-objective."""
    flags: tuple[str, ...] = ()
    """Regression rules this value broke, as of its run (see the module docstring)."""


@dataclass(frozen=True)
class Row:
    run_id: str
    started_at: str
    status: str
    reason: str
    values: dict[str, Value]


@dataclass(frozen=True)
class Regression:
    metric: str
    rule: str
    run_id: str
    message: str


@dataclass
class ScenarioHistory:
    scenario: str
    rows: list[Row]
    regressions: list[Regression] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "runs": [
                {
                    "runId": r.run_id,
                    "startedAt": r.started_at,
                    "status": r.status,
                    "reason": r.reason,
                    **{
                        k: {
                            "seconds": v.seconds,
                            "uncertaintySeconds": v.uncertainty,
                            "objectiveSeconds": v.objective,
                            "status": v.status,
                            "regression": list(v.flags),
                        }
                        for k, v in r.values.items()
                    },
                }
                for r in self.rows
            ],
            "regressions": [
                {"metric": g.metric, "rule": g.rule, "runId": g.run_id, "message": g.message}
                for g in self.regressions
            ],
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _value(m: Rto | Rpo) -> Value:
    return Value(
        seconds=_r(m.seconds),
        uncertainty=_r(m.uncertainty_seconds) or 0.0,
        objective=m.objective_seconds,
        status=m.status.value,
    )


def _row(run: Run) -> Row:
    return Row(
        run_id=run.run_id or "?",
        started_at=iso(run.started_at) or "",
        status=run.status.value,
        reason=run.reason,
        values={k: _value(m) for k, m in run.measurements.timed()},
    )


def judge(values: Sequence[Value], rules: Rules) -> list[tuple[str, str]]:
    """(rule, message) for the last of `values` (all measured, oldest first)."""
    *earlier, latest = values
    assert latest.seconds is not None
    found = []
    previous = [v.seconds for v in earlier[-rules.window :] if v.seconds is not None]
    if len(previous) >= rules.min_previous:
        median = statistics.median(previous)
        margin = max(rules.margin_seconds, rules.margin_fraction * median)
        if latest.seconds > median + latest.uncertainty + margin:
            found.append(
                (
                    "above-median",
                    f"{latest.seconds:g}s is above the median {median:g}s of the previous "
                    f"{len(previous)} runs by more than ±{latest.uncertainty:g}s + {margin:g}s",
                )
            )
    k = rules.rising_runs
    if k >= 2 and len(values) >= k:
        tail = [v.seconds for v in values[-k:] if v.seconds is not None]
        first, last = values[-k], latest
        rise = tail[-1] - tail[0]
        needed = first.uncertainty + last.uncertainty + rules.margin_seconds
        if all(b > a for a, b in pairwise(tail)) and rise > needed:
            found.append(
                (
                    "rising",
                    f"rose in each of the last {k} measured runs "
                    f"({' → '.join(f'{s:g}s' for s in tail)}), by {rise:g}s in all "
                    f"(more than {needed:g}s)",
                )
            )
    return found


def _flagged(rows: list[Row], rules: Rules) -> tuple[list[Row], list[Regression]]:
    flags: dict[tuple[int, str], tuple[str, ...]] = {}
    regressions: list[Regression] = []
    for metric in METRICS:
        measured = [
            (i, r.values[metric])
            for i, r in enumerate(rows)
            if metric in r.values and r.values[metric].seconds is not None
        ]
        for n in range(len(measured)):
            found = judge([v for _, v in measured[: n + 1]], rules)
            flags[(measured[n][0], metric)] = tuple(rule for rule, _ in found)
            if n == len(measured) - 1:
                run_id = rows[measured[n][0]].run_id
                regressions += [
                    Regression(metric, rule, run_id, f"{name(metric)} {message}")
                    for rule, message in found
                ]
    out = [
        Row(
            r.run_id,
            r.started_at,
            r.status,
            r.reason,
            {
                k: Value(v.seconds, v.uncertainty, v.objective, v.status, flags.get((i, k), ()))
                for k, v in r.values.items()
            },
        )
        for i, r in enumerate(rows)
    ]
    return out, regressions


def build(
    runs: Iterable[Run],
    *,
    scenario: str | None = None,
    last: int | None = None,
    rules: Rules | None = None,
) -> list[ScenarioHistory]:
    """Histories by scenario name (sorted), each oldest run first; `last` keeps the newest N
    runs of each, and regressions are judged on the runs kept. Running runs are left out."""
    rules = rules or Rules()
    by_name: dict[str, list[Run]] = {}
    for run in runs:
        name = run.scenario.name or "?"
        if scenario is not None and name != scenario:
            continue
        if not run.finished:
            continue
        by_name.setdefault(name, []).append(run)
    out = []
    for name in sorted(by_name):
        chosen = sorted(by_name[name], key=lambda r: iso(r.started_at) or "")
        if last is not None:
            chosen = chosen[-last:] if last > 0 else []
        rows, regressions = _flagged([_row(r) for r in chosen], rules)
        out.append(ScenarioHistory(name, rows, regressions))
    return out


def shown_metrics(h: ScenarioHistory) -> list[str]:
    """RTO and RPO always; the failback ones when some run measured them."""
    return [m for m in METRICS if m in ("rto", "rpo") or any(m in r.values for r in h.rows)]


def _cell(v: Value | None) -> str:
    if v is None:
        return "-"
    if v.seconds is None:
        return v.status
    mark = {"met": "", "missed": " MISSED"}.get(v.status, f" {v.status}")
    return f"{v.seconds:.1f}s ±{v.uncertainty:.1f}s{mark}"


def _target(rows: Sequence[Row], metric: str) -> str:
    targets = {r.values[metric].objective for r in rows if metric in r.values}
    targets.discard(None)
    return ", ".join(f"<= {t:g}s" for t in sorted(t for t in targets if t is not None)) or "-"


def render_text(histories: Sequence[ScenarioHistory]) -> str:
    """Terminal text: every value from a record is one `runner.text.line`."""
    if not histories:
        return "no runs found"
    lines: list[str] = []
    for h in histories:
        runs = f"{len(h.rows)} run{'' if len(h.rows) == 1 else 's'}"
        shown = shown_metrics(h)
        lines.append(
            f"{one(h.scenario)}: {runs}; "
            + ", ".join(f"{name(m)} objective {_target(h.rows, m)}" for m in shown)
        )
        header = ("started (UTC)", "run", "status", *(name(m) for m in shown), "regression")
        table = [header]
        for r in h.rows:
            flags = [f"{name(k)} {f}" for k in METRICS if k in r.values for f in r.values[k].flags]
            table.append(
                (
                    one(r.started_at[:19].replace("T", " ")),
                    one(r.run_id),
                    one(r.status),
                    *(_cell(r.values.get(m)) for m in shown),
                    ", ".join(flags) or "-",
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        ]
        if h.regressions:
            lines += [
                f"  REGRESSION: {one(g.message)} (run {one(g.run_id)})" for g in h.regressions
            ]
        else:
            lines.append("  no regression in the latest measured run")
        lines.append("")
    return "\n".join(lines).rstrip()
