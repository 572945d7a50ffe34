"""The run timeline as inline SVG: the SLI panel above the replication-lag panel on one time
axis, phases shaded behind both, a dashed line for each marker with its label in a lane on
top, and the phase strip at the bottom. Gaps in a series (no sample for more than two steps)
are left empty, never bridged.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from runner.reports import svg
from runner.reports.timeline import Line, Timeline

WIDTH = 1100
LEFT, RIGHT = 64, 24
ROW = 16
SLI_HEIGHT, LAG_HEIGHT, GAP, STRIP = 170, 130, 34, 22

SLI_COLOURS = ("#0969da", "#1b7c83", "#6e7781")
LAG_COLOURS = ("#bc4c00", "#953800", "#6e7781")
MARKER_COLOURS = {
    "fault-injected": "#cf222e",
    "first-failure": "#e16f24",
    "failover-done": "#054da7",
    "recovered": "#1a7f37",
    "fault-removed": "#8250df",
    "failback-started": "#0a6870",
    "failback-recovered": "#1a7f37",
    "failback-done": "#1b7c83",
    "phase-detected": "#e16f24",
    "phase-orchestrated": "#054da7",
    "phase-dns-converged": "#6639ba",
    "phase-ttl-bound": "#9a6700",
    "phase-healthy": "#1a7f37",
}
PHASE_COLOURS = {
    "preflight": "#eaeef2",
    "steady-state": "#dafbe1",
    "inject": "#ffebe9",
    "observe": "#fff1e5",
    "failover": "#ddf4ff",
    "verify": "#fbefff",
    "recover-faults": "#f5f0ff",
    "failback": "#dff7f8",
    "post-steady-state": "#dafbe1",
    "cleanup": "#eaeef2",
    "report": "#f6f8fa",
}


def phase_colour(name: str) -> str:
    return PHASE_COLOURS.get(name, "#f6f8fa")


def _panel(
    tl: Timeline,
    x: svg.Scale,
    lines: Sequence[Line],
    *,
    top: float,
    height: float,
    name: str,
    unit: str,
    floor_max: float,
    colours: Sequence[str],
    objective: float | None = None,
) -> list[str]:
    values = [v for line in lines for _, v in line.points]
    top_value = svg.nice_max(max([*values, 0.0]) * 1.1, floor_max)
    show_objective = objective is not None and objective <= top_value * 3
    if show_objective and objective is not None:
        top_value = svg.nice_max(max(top_value, objective * 1.1), floor_max)
    y = svg.Scale(0.0, top_value, top + height, top)
    out = [
        svg.el("rect", x=LEFT, y=top, width=WIDTH - LEFT - RIGHT, height=height, class_="frame"),
        svg.text(
            f"{name} ({unit})" if unit else name, x=LEFT + 6, y=top + 14, class_="panel-title"
        ),
    ]
    out += svg.y_grid(svg.ticks(0.0, top_value, 5), y, LEFT, WIDTH - RIGHT)
    if objective is not None:
        out += _objective(objective, unit, y, top, shown=show_objective)
    if not any(line.points for line in lines):
        out.append(
            svg.text(
                "no samples recorded",
                x=(LEFT + WIDTH - RIGHT) / 2,
                y=top + height / 2,
                class_="empty",
                text_anchor="middle",
            )
        )
    for i, line in enumerate(lines):
        out += _series(tl, x, y, line, colours[i % len(colours)], top, height, name)
    return out


def _objective(objective: float, unit: str, y: svg.Scale, top: float, *, shown: bool) -> list[str]:
    """The objective as a dashed line, or a note that it is above the panel's range."""
    if shown:
        label = f"objective {svg.fmt(objective)}{unit}"
        return svg.objective_line(objective, label, y, LEFT, WIDTH - RIGHT)
    return [
        svg.text(
            f"objective {svg.fmt(objective)}{unit} is above this range",
            x=WIDTH - RIGHT - 6,
            y=top + 14,
            class_="tick",
            text_anchor="end",
        )
    ]


def _series(
    tl: Timeline,
    x: svg.Scale,
    y: svg.Scale,
    line: Line,
    colour: str,
    top: float,
    height: float,
    name: str,
) -> list[str]:
    """One series: its gaps shaded, its samples as a path, a lone sample as a dot."""
    out = []
    runs = svg.split_at_gaps(line.points, 2 * tl.step + 1e-6)
    for before, after in pairwise(runs):  # show where data is missing
        t0, t1 = before[-1][0], after[0][0]
        out.append(
            svg.el(
                "rect",
                [svg.title(f"no data for {t1 - t0:g}s in {line.label}")],
                x=x(t0),
                y=top,
                width=x(t1) - x(t0),
                height=height,
                class_="gap",
            )
        )
    pixels = [[(x(t), y(v)) for t, v in run] for run in runs]
    out.append(
        svg.el(
            "path",
            [svg.title(line.label)],
            d=svg.path(pixels),
            fill="none",
            stroke=colour,
            stroke_width=2,
            class_=f"series series-{name.split()[0].lower()}",
        )
    )
    for run in pixels:
        if len(run) == 1:  # a lone sample between gaps: a dot, or it would not show
            px, py = run[0]
            out.append(svg.el("circle", cx=px, cy=py, r=2.5, fill=colour))
    return out


def render(tl: Timeline, *, rpo_objective: float | None = None) -> str:
    """The timeline chart as one `<svg>` element."""
    lane = ROW * len(tl.markers) + 8
    sli_top = lane + 6
    lag_top = sli_top + SLI_HEIGHT + GAP
    strip_top = lag_top + LAG_HEIGHT + GAP
    height = strip_top + STRIP + 10
    x = svg.Scale(tl.start, tl.end, LEFT, WIDTH - RIGHT)
    out = _phases(tl, x, sli_top, lag_top, strip_top)
    out += _panel(
        tl,
        x,
        tl.sli,
        top=sli_top,
        height=SLI_HEIGHT,
        name="SLI",
        unit="",
        floor_max=1.0,
        colours=SLI_COLOURS,
    )
    out += _panel(
        tl,
        x,
        tl.lag,
        top=lag_top,
        height=LAG_HEIGHT,
        name="Replication lag",
        unit="s",
        floor_max=0.5,
        colours=LAG_COLOURS,
        objective=rpo_objective,
    )
    out += _time_axis(tl, x, sli_top, lag_top)
    out += _markers(tl, x, strip_top)
    return svg.el(
        "svg",
        out,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {height}",
        width=WIDTH,
        height=height,
        role="img",
        aria_label="Timeline of the drill: SLI and replication lag, phases and markers",
        class_="chart timeline",
    )


def _phases(tl: Timeline, x: svg.Scale, sli_top: int, lag_top: int, strip_top: int) -> list[str]:
    """Each phase shaded behind both panels and drawn in the strip, named when it fits."""
    out: list[str] = []
    for p in tl.phases:
        x0, x1 = x(p.start), x(p.end)
        tip = svg.title(f"{p.name}: {p.status}, {p.end - p.start:.1f}s")
        shade = dict(x=x0, width=max(x1 - x0, 1.0), fill=phase_colour(p.name))
        for top, h in ((sli_top, SLI_HEIGHT), (lag_top, LAG_HEIGHT)):
            out.append(svg.el("rect", [tip], y=top, height=h, class_="phase", **shade))
        out.append(
            svg.el(
                "rect",
                [tip],
                y=strip_top,
                height=STRIP,
                class_=f"phase-strip status-{p.status}",
                **shade,
            )
        )
        if x1 - x0 > 7.0 * len(p.name) + 6:
            out.append(
                svg.text(
                    p.name,
                    x=(x0 + x1) / 2,
                    y=strip_top + 15,
                    class_="strip-label",
                    text_anchor="middle",
                )
            )
    return out


def _time_axis(tl: Timeline, x: svg.Scale, sli_top: int, lag_top: int) -> list[str]:
    """Seconds from the origin under each panel, and what the origin is."""
    out = []
    for v in svg.ticks(tl.start - tl.origin, tl.end - tl.origin, 10):
        px = x(tl.origin + v)
        for top, h in ((sli_top, SLI_HEIGHT), (lag_top, LAG_HEIGHT)):
            out.append(
                svg.text(svg.fmt(v), x=px, y=top + h + 14, class_="tick", text_anchor="middle")
            )
    out.append(
        svg.text(
            tl.origin_label,
            x=WIDTH - RIGHT,
            y=lag_top + LAG_HEIGHT + 28,
            class_="tick",
            text_anchor="end",
        )
    )
    return out


def _markers(tl: Timeline, x: svg.Scale, strip_top: int) -> list[str]:
    """Each marker: a dashed line down to the strip (a band over its span, if any) and its
    label in its own row of the lane on top."""
    out = []
    for i, m in enumerate(tl.markers):
        px = x(m.at)
        colour = MARKER_COLOURS.get(m.key, "#24292f")
        label_y = ROW * (i + 1)
        right = px > LEFT + 0.7 * (WIDTH - LEFT - RIGHT)
        band = (
            []
            if m.span is None
            else [
                svg.el(
                    "rect",
                    x=x(m.span[0]),
                    width=max(x(m.span[1]) - x(m.span[0]), 1.0),
                    y=label_y + 3,
                    height=strip_top + STRIP - label_y - 3,
                    fill=colour,
                    class_="marker-band",
                )
            ]
        )
        out.append(
            svg.el(
                "g",
                [
                    svg.title(f"{m.label} at {m.at - tl.origin:+.2f}s"),
                    *band,
                    svg.el(
                        "line",
                        x1=px,
                        x2=px,
                        y1=label_y + 3,
                        y2=strip_top + STRIP,
                        stroke=colour,
                        class_="marker",
                    ),
                    svg.text(
                        m.label,
                        x=px + (-4 if right else 4),
                        y=label_y,
                        fill=colour,
                        class_="marker-label",
                        text_anchor="end" if right else "start",
                    ),
                ],
                class_=f"marker-{m.key}",
            )
        )
    return out
