"""One objective's trend over a scenario's runs as inline SVG: each measured run a point with
its uncertainty as an error bar, the objective as a dashed line, met points green, missed
red, regressions ringed and labelled; runs without a value are marked on the axis."""

from __future__ import annotations

from collections.abc import Sequence

from runner.reports import history, svg
from runner.reports.history import Row, Value

WIDTH, HEIGHT = 1100, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 28, 46
POINT_COLOURS = {"met": "#1a7f37", "missed": "#cf222e"}
OTHER_COLOUR = "#0969da"
REGRESSION_COLOUR = "#cf222e"


def render(rows: Sequence[Row], metric: str) -> str:
    values = [r.values.get(metric) for r in rows]
    measured = [v for v in values if v is not None and v.seconds is not None]
    objectives = [v.objective for v in values if v is not None and v.objective is not None]
    highest = max(
        [*(v.seconds + v.uncertainty for v in measured if v.seconds is not None), *objectives, 0.0]
    )
    top = svg.nice_max(highest * 1.1, 1.0)
    n = max(len(rows), 1)
    x = svg.Scale(-0.5, n - 0.5, LEFT, WIDTH - RIGHT)
    y = svg.Scale(0.0, top, HEIGHT - BOTTOM, TOP)
    name = history.name(metric)
    out = _frame(name, top, y, objectives)
    line = [
        (x(i), y(v.seconds))
        for i, v in enumerate(values)
        if v is not None and v.seconds is not None
    ]
    if line:
        out.append(
            svg.el("path", d=svg.path([line]), fill="none", stroke="#8c959f", stroke_width=1.5)
        )
    label_every = max(1, len(rows) // 20)
    for i, (row, v) in enumerate(zip(rows, values, strict=True)):
        px = x(i)
        if i % label_every == 0 or i == len(rows) - 1:
            out.append(
                svg.text(
                    f"#{i + 1}", x=px, y=HEIGHT - BOTTOM + 16, class_="tick", text_anchor="middle"
                )
            )
        if v is None or v.seconds is None:
            out.append(_no_value(row, v, px, name))
        else:
            out.append(_point(row, v, v.seconds, px, y, name))
    out.append(
        svg.text(
            "× no value (inconclusive, aborted or not measured)",
            x=LEFT,
            y=HEIGHT - 8,
            class_="tick",
        )
    )
    return svg.el(
        "svg",
        out,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        width=WIDTH,
        height=HEIGHT,
        role="img",
        aria_label=f"{name} of each run against its objective",
        class_=f"chart trend trend-{metric}",
    )


def _frame(name: str, top: float, y: svg.Scale, objectives: Sequence[float]) -> list[str]:
    """The frame, its title, the grid and a dashed line for each objective."""
    out = [
        svg.el(
            "rect",
            x=LEFT,
            y=TOP,
            width=WIDTH - LEFT - RIGHT,
            height=HEIGHT - TOP - BOTTOM,
            class_="frame",
        ),
        svg.text(f"{name} (s) by run, oldest first", x=LEFT, y=TOP - 10, class_="panel-title"),
    ]
    out += svg.y_grid(svg.ticks(0.0, top, 5), y, LEFT, WIDTH - RIGHT)
    for objective in sorted(set(objectives)):
        label = f"objective {svg.fmt(objective)}s"
        out += svg.objective_line(objective, label, y, LEFT, WIDTH - RIGHT)
    return out


def _no_value(row: Row, v: Value | None, px: float, name: str) -> str:
    """A run without a value: a mark on the axis saying why."""
    why = "not measured" if v is None else v.status
    return svg.el(
        "g",
        [
            svg.title(f"{row.run_id}: {row.status}, {name} {why}"),
            svg.text(
                "×",
                x=px,
                y=HEIGHT - BOTTOM - 4,
                fill="#6e7781",
                text_anchor="middle",
                class_="no-value",
            ),
        ],
    )


def _point(row: Row, v: Value, seconds: float, px: float, y: svg.Scale, name: str) -> str:
    """A measured run: its point coloured by status, its uncertainty as an error bar, and a
    ring and label when it is a regression."""
    colour = POINT_COLOURS.get(v.status, OTHER_COLOUR)
    parts = [
        svg.title(
            f"{row.run_id} ({row.started_at[:19]}): {name} {seconds:g}s "
            f"±{v.uncertainty:g}s, {v.status}"
            + (f"; regression: {', '.join(v.flags)}" if v.flags else "")
        ),
    ]
    if v.uncertainty:
        lo, hi = max(seconds - v.uncertainty, 0.0), seconds + v.uncertainty
        parts.append(
            svg.el("line", x1=px, x2=px, y1=y(lo), y2=y(hi), stroke=colour, stroke_width=1.5)
        )
    parts.append(
        svg.el(
            "circle",
            cx=px,
            cy=y(seconds),
            r=4.5,
            fill=colour,
            class_=f"point point-{v.status}",
        )
    )
    if v.flags:
        parts.append(
            svg.el(
                "circle",
                cx=px,
                cy=y(seconds),
                r=9,
                fill="none",
                stroke=REGRESSION_COLOUR,
                stroke_width=2,
                class_="regression",
            )
        )
        parts.append(
            svg.text(
                "regression",
                x=px,
                y=y(seconds) - 13,
                fill=REGRESSION_COLOUR,
                text_anchor="middle",
                class_="marker-label",
            )
        )
    return svg.el("g", parts)
