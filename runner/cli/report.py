"""`drillctl report` and `drillctl history`: run records as text, JSON, Markdown or HTML.

The report modules (`runner.reports`) are imported inside the commands so `drillctl --help`
stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli import exits
from runner.cli.options import results_option

_DEFAULT_FILES = {"html": "report.html", "md": "report.md"}


def _write(content: str, out: Path | None, default: Path | None) -> None:
    """Write to `out` ('-' is stdout), else to `default`, else print (as terminal text)."""
    from runner.records import results
    from runner.text import block, line

    target = out if out is not None else default
    if target is None or str(target) == "-":
        click.echo(block(content), nl=not content.endswith("\n"))
        return
    results.write(target, content)
    click.echo(f"wrote {line(target)}")


@click.command()
@click.argument("run")
@results_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "md", "html"]),
    default="text",
    show_default=True,
    help="text and json print; md and html are written next to the record.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead ('-' prints). Default for md/html: <record>/report.<md|html>.",
)
def command(run: str, results_dir: Path, fmt: str, out: Path | None) -> int:
    """Show or write the report of RUN (a run id under --results, or a run folder).

    The exit code is the run's verdict: 0 passed, 1 failed, 3 aborted, error or
    inconclusive.
    """
    from runner import redact
    from runner.journal import files

    folder = files.load(files.locate(run, results_dir))
    data = folder.run
    if fmt == "json":
        _write(json.dumps(redact.value(data.to_json()), indent=2, default=str) + "\n", out, None)
    elif fmt == "text":
        from runner.reports.summary import render_text

        _write(render_text(data, record_dir=str(folder.dir)) + "\n", out, None)
    elif fmt == "md":
        from runner.reports import markdown

        html_path = folder.dir / _DEFAULT_FILES["html"]
        _write(
            markdown.render(folder, report_path=str(html_path) if html_path.exists() else None),
            out,
            folder.dir / _DEFAULT_FILES["md"],
        )
    else:
        from runner.reports import html

        _write(html.render(folder), out, folder.dir / _DEFAULT_FILES["html"])
    return data.status.exit_code


@click.command()
@click.option("--scenario", help="Only this scenario (by name); default every scenario.")
@results_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="text and json print; html is written to <results>/history.html.",
)
@click.option("--last", type=click.IntRange(min=1), help="Only the newest N runs per scenario.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead ('-' prints).",
)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when the latest measured run of a scenario is flagged as a regression.",
)
def history(
    scenario: str | None,
    results_dir: Path,
    fmt: str,
    last: int | None,
    out: Path | None,
    fail_on_regression: bool,
) -> int:
    """Show every run of a scenario over time: RTO and RPO against objectives, regressions.

    A run.json that is not a readable record is skipped with a warning naming it."""
    from runner.journal.files import list_runs
    from runner.reports import history as hist
    from runner.text import line

    runs = list_runs(results_dir, warn=lambda m: click.echo(f"warning: {line(m)}", err=True))
    histories = hist.build(runs, scenario=scenario, last=last)
    if scenario is not None and not histories:
        raise click.UsageError(f"no run of scenario {scenario!r} in {results_dir}")
    from runner.reports import exercise

    open_items = exercise.open_deficiencies(runs, results_dir, scenario)
    if fmt == "json":
        scenarios = [h.to_json() for h in histories]
        for item in scenarios:
            item["openDeficiencies"] = [
                {"runId": run_id, **d.to_json()}
                for run_id, d in open_items.get(item["scenario"], [])
            ]
        data = {"results": str(results_dir), "scenarios": scenarios}
        _write(json.dumps(data, indent=2) + "\n", out, None)
    elif fmt == "text":
        text = hist.render_text(histories) + "\n\n" + exercise.open_text(open_items)
        _write(text + "\n", out, None)
    else:
        from runner.reports import history_html

        _write(
            history_html.render(histories, source=str(results_dir)),
            out,
            results_dir / "history.html",
        )
    flagged = any(h.regressions for h in histories)
    return exits.MISSED if fail_on_regression and flagged else exits.OK
