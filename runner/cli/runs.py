"""`drillctl abort` and `drillctl status`: looking at runs from another shell."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import click

from runner.cli import exits
from runner.cli.options import results_option
from runner.cli.output import emit, output_option


def _alive(run: dict[str, Any]) -> bool:
    """A running record whose process still exists on this host."""
    if run.get("status") != "running" or run.get("host") != socket.gethostname():
        return False
    pid = run.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False  # os.kill(0, ...) would signal our own process group
    try:
        os.kill(pid, 0)
    except (OSError, OverflowError):
        return False
    return True


@click.command()
@click.argument("run_id")
@click.option("--reason", default="aborted with drillctl abort", show_default=True)
@click.option("--wait/--no-wait", default=True, help="Wait until the run has cleaned up.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait.")
@results_option
def abort(run_id: str, reason: str, wait: bool, timeout: float, results_dir: Path) -> int:
    """Abort a running drill: its faults are removed and failback runs per policy.

    RUN_ID is a run id (never a path): the request is written only inside --results."""
    from runner.clock import SystemClock
    from runner.records import results
    from runner.text import line

    run_dir = results.run_folder(results_dir, run_id)
    try:
        found = (run_dir / "run.json").is_file()
    except OSError:
        found = False
    if not found:
        raise click.UsageError(f"no run {run_id!r} in {results_dir}")
    run = results.read_run(results_dir, run_id)
    if run.get("status") != "running":
        click.echo(f"run {run_id} is not running (status: {line(run.get('status'))})")
        return exits.OK
    if not _alive(run):
        drill = (run.get("drill") or {}).get("path") or "DRILL"
        click.echo(
            f"run {run_id} is marked running but its process is gone (crashed?); "
            "sweep its faults with: "
            f"drillctl cleanup --drill {line(drill)} --run {run_id}",
            err=True,
        )
        return exits.RUNNER
    results.write(results.writable_run_folder(results_dir, run_id) / "abort", reason + "\n")
    click.echo(f"abort requested for run {run_id}")
    if not wait:
        return exits.OK
    clock = SystemClock()
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        run = results.read_run(results_dir, run_id)
        if run.get("status") != "running":
            click.echo(f"run {run_id} ended: {line(run.get('status'))} ({line(run.get('reason'))})")
            return exits.OK
        clock.sleep(0.5)
    click.echo(f"run {run_id} is still cleaning up after {timeout:g}s", err=True)
    return exits.RUNNER


@click.command()
@results_option
@click.option(
    "--drill",
    "drill_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also list leftover faults in every target of this drill.",
)
@output_option
def status(results_dir: Path, drill_path: Path | None, output: str) -> int:
    """Show active runs, and leftover faults per target of a drill.

    A run.json that is not a readable record is skipped with a warning naming it."""
    from runner.records.results import list_runs
    from runner.text import line

    warn = lambda m: click.echo(f"warning: {line(m)}", err=True)  # noqa: E731
    runs = [r for r in list_runs(results_dir, warn) if r.get("status") == "running"]
    data: dict[str, Any] = {
        "activeRuns": [
            {
                "runId": r["runId"],
                "scenario": r["scenario"]["name"],
                "startedAt": r.get("startedAt"),
                "alive": _alive(r),
                "phase": (r.get("phases") or [{}])[-1].get("name"),
            }
            for r in runs
        ],
        "leftovers": {},
    }
    if drill_path is not None:
        from runner.engine.targets import open_targets
        from runner.scenario.references import check_drill

        drill, _ = check_drill(drill_path)
        with open_targets(drill, drill_dir=drill_path.parent) as targets:
            for name, backend in targets.items():
                found = backend.faults.sweep(run_id=None, older_than_seconds=None)
                data["leftovers"][name] = [
                    {"kind": f.kind, "name": f.name, "namespace": f.namespace, "runId": f.run_id}
                    for f in found
                ]

    def text(d: dict[str, Any]) -> str:
        lines = ["Active runs:"]
        for r in d["activeRuns"]:
            state = "" if r["alive"] else "  (process gone: crashed?)"
            lines.append(
                f"  {line(r['runId'])}  {line(r['scenario'])}  phase {line(r['phase'])}{state}"
            )
        if not d["activeRuns"]:
            lines.append("  none")
        if drill_path is not None:
            lines.append("Leftover faults:")
            for name, items in d["leftovers"].items():
                lines.append(
                    f"  {name}: "
                    + (
                        ", ".join(
                            line(f"{i['kind']} {i['name']} (run {i['runId']})") for i in items
                        )
                        or "none"
                    )
                )
        return "\n".join(lines)

    emit(data, output, text)
    return exits.OK
