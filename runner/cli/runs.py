"""`drillctl abort` and `drillctl status`: looking at runs from another shell.

Whether a `running` record belongs to a live run is judged by `runner.engine.dead_runs`:
its process on this host, or the target locks it holds (with `status --drill`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.cli import exits
from runner.cli.options import drill_option, results_option
from runner.cli.output import emit, output_option

if TYPE_CHECKING:
    from runner.backends import LockHolder
    from runner.journal.run import Run


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
    from runner.engine.dead_runs import Liveness, judge
    from runner.journal.files import read_run
    from runner.records import results
    from runner.text import line

    run_dir = results.run_folder(results_dir, run_id)
    try:
        found = (run_dir / "run.json").is_file()
    except OSError:
        found = False
    if not found:
        raise click.UsageError(f"no run {run_id!r} in {results_dir}")
    run = read_run(results_dir, run_id)
    if run.finished:
        click.echo(f"run {run_id} is not running (status: {line(run.status.value)})")
        return exits.OK
    judged = judge(run)
    drill = line(run.drill.path or "DRILL")
    if judged.liveness is Liveness.DEAD:
        click.echo(
            f"run {run_id} is marked running but is dead ({line(judged.reason)}); sweep its "
            f"faults and mark it crashed with: drillctl cleanup --drill {drill} --run {run_id}",
            err=True,
        )
        return exits.RUNNER
    results.write(results.writable_run_folder(results_dir, run_id) / "abort", reason + "\n")
    if judged.liveness is Liveness.UNKNOWN:
        click.echo(
            f"abort requested for run {run_id}, but whether it is alive cannot be told from "
            f"here ({line(judged.reason)}); it acts on the request only if it watches this "
            f"results folder. If it died, finalise it with: drillctl cleanup --drill {drill} "
            f"--run {run_id}",
            err=True,
        )
        return exits.RUNNER
    click.echo(f"abort requested for run {run_id}")
    if not wait:
        return exits.OK
    clock = SystemClock()
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        run = read_run(results_dir, run_id)
        if run.finished:
            click.echo(f"run {run_id} ended: {line(run.status.value)} ({line(run.reason)})")
            return exits.OK
        clock.sleep(0.5)
    click.echo(f"run {run_id} is still cleaning up after {timeout:g}s", err=True)
    return exits.RUNNER


@click.command()
@results_option
@drill_option(
    required=False,
    help="Also show every target's lock and leftover faults (and judge runs by their locks).",
)
@output_option
def status(results_dir: Path, drill_path: Path | None, output: str) -> int:
    """Show active runs (running, dead or unknown), locks and leftover faults per target.

    A run.json that is not a readable record is skipped with a warning naming it."""
    from runner.engine import dead_runs
    from runner.text import line

    warn = lambda m: click.echo(f"warning: {line(m)}", err=True)  # noqa: E731
    runs = dead_runs.running_runs(results_dir, warn=warn)
    data: dict[str, Any] = {"activeRuns": [], "locks": {}, "leftovers": {}, "errors": []}
    holders: dict[str, LockHolder] = {}
    if drill_path is not None:
        holders = _targets(drill_path, runs, data)
    data["activeRuns"] = [_active_run(r, holders) for r in runs]
    emit(data, output, lambda d: _status_text(d, targets=drill_path is not None))
    return exits.RUNNER if data["errors"] else exits.OK


def _targets(drill_path: Path, runs: Sequence[Run], data: dict[str, Any]) -> dict[str, LockHolder]:
    """Every target's lock (its holder judged) and leftover faults, into `data`; the lock
    holders, by target, to judge the runs with."""
    from runner.engine import dead_runs
    from runner.engine.targets import open_targets
    from runner.scenario.references import check_drill

    drill, _ = check_drill(drill_path)
    with open_targets(drill, drill_dir=drill_path.parent) as targets:
        evidence = dead_runs.lock_holders(targets)
        holders = evidence.holders
        data["errors"] += evidence.errors
        for name, backend in targets.items():
            found = backend.faults.sweep(run_id=None, older_than_seconds=None)
            data["leftovers"][name] = [
                {"kind": f.kind, "name": f.name, "namespace": f.namespace, "runId": f.run_id}
                for f in found
            ]
    records = {r.run_id: r for r in runs}
    for name, h in sorted(holders.items()):
        judged = dead_runs.judge(
            records.get(h.run_id) or dead_runs.unrecorded(h.run_id), holders=holders
        )
        data["locks"][name] = {
            "runId": h.run_id,
            "since": h.since,
            "expired": h.expired,
            "state": judged.liveness.value,
            "reason": judged.reason,
        }
    return dict(holders)


def _active_run(r: Run, holders: Mapping[str, LockHolder]) -> dict[str, Any]:
    """One `running` record, judged running, dead or unknown."""
    from runner.engine import dead_runs
    from runner.journal.entries import iso

    judged = dead_runs.judge(r, holders=holders)
    return {
        "runId": r.run_id,
        "scenario": r.scenario.name,
        "drill": r.drill.path or None,
        "startedAt": iso(r.started_at),
        "state": judged.liveness.value,
        "alive": judged.liveness is dead_runs.Liveness.RUNNING,
        "reason": judged.reason,
        "phase": None if r.last_phase is None else r.last_phase.name.value,
    }


def _status_text(d: dict[str, Any], *, targets: bool) -> str:
    """`drillctl status` as text; `targets`: with locks and leftover faults (--drill)."""
    from runner.text import line

    lines = ["Active runs:"]
    for r in d["activeRuns"]:
        if r["state"] == "dead":
            state = (
                f"DEAD ({line(r['reason'])}); finalise it: drillctl cleanup --drill "
                f"{line(r['drill'])}"
            )
        else:
            state = f"{r['state']} ({line(r['reason'])})"
        lines.append(
            f"  {line(r['runId'])}  {line(r['scenario'])}  phase {line(r['phase'])}  {state}"
        )
    if not d["activeRuns"]:
        lines.append("  none")
    if targets:
        lines += _targets_text(d)
    lines += [f"error   {line(e)}" for e in d["errors"]]
    return "\n".join(lines)


def _targets_text(d: dict[str, Any]) -> list[str]:
    from runner.text import line

    lines = ["Locks:"]
    for name, lock in d["locks"].items():
        lines.append(
            f"  {name}: held by run {line(lock['runId'])} since {line(lock['since'])}: "
            f"{lock['state']} ({line(lock['reason'])})"
        )
    if not d["locks"]:
        lines.append("  none held")
    lines.append("Leftover faults:")
    for name, items in d["leftovers"].items():
        listed = ", ".join(line(f"{i['kind']} {i['name']} (run {i['runId']})") for i in items)
        lines.append(f"  {name}: " + (listed or "none"))
    return lines
