"""The HTML page shell shared by the run report and the history page: inline CSS, verdict
colours, escaped tables. No script and no external asset, so a page works offline and can be
attached to a ticket or mailed as one file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runner.reports.svg import esc

VERDICT_COLOURS = {
    "passed": ("#1a7f37", "#ffffff"),
    "failed": ("#cf222e", "#ffffff"),
    "inconclusive": ("#d4a72c", "#1f2328"),
    "aborted": ("#6e7781", "#ffffff"),
    "error": ("#6e7781", "#ffffff"),
    "crashed": ("#cf222e", "#ffffff"),
    "running": ("#0969da", "#ffffff"),
}
"""status -> (background, text) of the verdict banner."""
UNKNOWN_COLOURS = ("#6e7781", "#ffffff")

CSS = """
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: #1f2328; background: #ffffff; margin: 0; padding: 0 0 40px; }
main { max-width: 1140px; margin: 0 auto; padding: 0 20px; }
.banner { padding: 18px 24px; margin: 0 0 18px; }
.banner h1 { margin: 0; font-size: 24px; }
.banner p { margin: 4px 0 0; font-size: 15px; }
h2 { font-size: 18px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.met-yes { color: #1a7f37; font-weight: 600; }
.met-no { color: #cf222e; font-weight: 600; }
.met-unknown { color: #9a6700; font-weight: 600; }
.flag { color: #cf222e; font-weight: 600; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.meta dt { color: #59636e; } dl.meta dd { margin: 0; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 6px 8px; margin: 4px 0;
  white-space: pre-wrap; word-break: break-word; max-height: 16em; overflow: auto; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.legend span { display: inline-block; margin: 0 14px 4px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -1px;
  margin-right: 4px; border: 1px solid #8c959f; }
.muted { color: #59636e; }
.pill { padding: 1px 8px; border-radius: 10px; font-size: 12px; white-space: nowrap; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 8px 0; }
svg .frame { fill: none; stroke: #8c959f; }
svg .grid { stroke: #d8dee4; stroke-width: 1; }
svg .tick { font-size: 11px; fill: #59636e; }
svg .panel-title { font-size: 12px; font-weight: 600; fill: #1f2328; }
svg .empty { font-size: 13px; fill: #8c959f; }
svg .objective { stroke: #cf222e; stroke-dasharray: 6 4; stroke-width: 1.5; }
svg .marker { stroke-dasharray: 4 3; stroke-width: 1.5; }
svg .marker-label { font-size: 12px; font-weight: 600; }
svg .marker-band { opacity: 0.15; }
svg .phase { opacity: 0.75; }
svg .gap { fill: #8c959f; opacity: 0.35; }
svg .phase-strip { stroke: #ffffff; }
svg .phase-strip.status-failed, svg .phase-strip.status-aborted,
svg .phase-strip.status-stopped { stroke: #cf222e; stroke-width: 2; }
svg .strip-label { font-size: 11px; fill: #1f2328; }
"""


def verdict_colours(status: str) -> tuple[str, str]:
    return VERDICT_COLOURS.get(status, UNKNOWN_COLOURS)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, raw: bool = False) -> str:
    """A table; cells are escaped unless raw (then they are markup built by the caller)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def document(page_title: str, body: Iterable[str]) -> str:
    """A complete, self-contained HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(page_title)}</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )
