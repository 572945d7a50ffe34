"""SVG building blocks for the charts: escaping, linear scales, axis ticks and line paths.

Every piece of text or attribute value goes through `esc`, so names and labels taken from a
run record cannot break out of the markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from runner.text import block as _safe


def esc(value: object) -> str:
    """Escape text for HTML and SVG, in element content and in quoted attribute values;
    secrets masked and control characters shown as escapes (`runner.text.block`)."""
    return escape(_safe(value), quote=True)


def attrs(values: Mapping[str, object]) -> str:
    """` name="value"` pairs, escaped; None values are left out, `_` in names becomes `-`."""
    return "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in values.items() if v is not None
    )


def el(tag: str, children: Iterable[str] = (), /, **values: object) -> str:
    """An element whose children are already-built markup (never raw text: use `text`)."""
    inner = "".join(children)
    return f"<{tag}{attrs(values)}>{inner}</{tag}>" if inner else f"<{tag}{attrs(values)}/>"


def text(content: object, /, **values: object) -> str:
    return f"<text{attrs(values)}>{esc(content)}</text>"


def title(content: object) -> str:
    """A tooltip for the enclosing element."""
    return f"<title>{esc(content)}</title>"


@dataclass(frozen=True)
class Scale:
    """Maps a domain [lo, hi] linearly onto pixels [a, b] (b < a for a y axis)."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return round(self.a + (value - self.lo) / span * (self.b - self.a), 2)


def ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    value = first
    while value <= hi + step * 1e-9:
        out.append(round(value, 10))
        value += step
    return out


def nice_max(value: float, minimum: float) -> float:
    """A round upper bound for an axis that shows values up to `value`."""
    top = max(value, minimum)
    power = 10 ** math.floor(math.log10(top))
    return float(
        next(m * power for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * power >= top)
    )


def fmt(value: float) -> str:
    """A short number: 12, 1.5, 0.25."""
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def split_at_gaps(
    points: Sequence[tuple[float, float]], max_gap: float
) -> list[list[tuple[float, float]]]:
    """Runs of points with no gap wider than max_gap between neighbours (a gap is drawn empty)."""
    runs: list[list[tuple[float, float]]] = []
    for point in points:
        if not runs or point[0] - runs[-1][-1][0] > max_gap:
            runs.append([])
        runs[-1].append(point)
    return runs


def path(runs: Iterable[Sequence[tuple[float, float]]]) -> str:
    """A path `d` through pixel points, one sub-path per run."""
    parts: list[str] = []
    for run in runs:
        for i, (x, y) in enumerate(run):
            parts.append(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}")
    return " ".join(parts)


def y_grid(values: Iterable[float], y: Scale, left: float, right: float) -> list[str]:
    """Horizontal grid lines with their value labels left of the plot."""
    out = []
    for v in values:
        out.append(el("line", x1=left, x2=right, y1=y(v), y2=y(v), class_="grid"))
        out.append(text(fmt(v), x=left - 6, y=y(v) + 4, class_="tick", text_anchor="end"))
    return out


def objective_line(value: float, label: str, y: Scale, left: float, right: float) -> list[str]:
    """A dashed objective line across the plot, labelled at its right end."""
    return [
        el("line", x1=left, x2=right, y1=y(value), y2=y(value), class_="objective"),
        text(label, x=right - 6, y=y(value) - 4, class_="tick", text_anchor="end"),
    ]
