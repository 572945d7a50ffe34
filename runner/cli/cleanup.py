"""`drillctl cleanup`: remove faults drill-runner left in every target of a drill, and
finalise runs that died.

First the dead runs: every run that holds a target's lock, or whose record in `--results`
still says `running`, is judged (`runner.engine.dead_runs`). A provably dead one (its process
on this host is gone, or its Lease expired) has its faults swept, the locks it still holds
released and its record marked `crashed`; the lock of a running (or unknown) one is left
alone and reported.
Then each target is swept by drill-runner's labels (optionally for one run or older than an
age); every leftover is removed, all of them in parallel, each waiting at most `--timeout`,
and the sweep is repeated. `--force` clears stuck Chaos Mesh finalizers (needed when the
Chaos Mesh controller is gone; the fault may then remain in the pods). `--force-unlock` also
breaks each target's drill lock whoever holds it. Exit code 0 when nothing is left, 3 otherwise.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.cli import exits
from runner.cli.options import drill_option, results_option
from runner.cli.output import emit, output_option

if TYPE_CHECKING:
    from runner.backends import TargetBackend


def _age(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    from runner.scenario.values import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=option) from None


@click.command()
@drill_option(help="The drill whose targets to sweep.")
@click.option("--run", "run_id", default=None, help="Only faults of this run id.")
@click.option("--older-than", default=None, help="Only faults older than this (e.g. 1h).")
@click.option("--force", is_flag=True, help="Clear stuck finalizers (controller gone).")
@click.option(
    "--force-unlock", is_flag=True, help="Also break each target's lock, whoever holds it."
)
@click.option(
    "--timeout",
    default="60s",
    show_default=True,
    help="How long to wait, in all, for leftovers to go (they are removed in parallel).",
)
@results_option
@output_option
@click.pass_context
def command(
    ctx: click.Context,
    drill_path: Path,
    run_id: str | None,
    older_than: str | None,
    force: bool,
    force_unlock: bool,
    timeout: str,
    results_dir: Path,
    output: str,
) -> None:
    """Remove faults left by drill-runner in every target of a drill."""
    from runner.engine.targets import open_targets
    from runner.scenario import loader

    older = _age(older_than, "--older-than")
    wait = _age(timeout, "--timeout") or 0.0
    drill = loader.load_drill(drill_path)
    data: dict[str, Any] = {
        "deadRuns": [],
        "liveRuns": [],
        "removed": [],
        "left": [],
        "errors": [],
        "unlocked": [],
    }
    with open_targets(drill, drill_dir=drill_path.parent) as backends:
        _close_dead_runs(
            backends, data, drill=drill.name, run_id=run_id, results_dir=results_dir, wait=wait
        )
        if force_unlock:
            _force_unlock(backends, data)
        _sweep(backends, data, run_id=run_id, older=older, force=force, wait=wait)
    errors = data["errors"] = list(dict.fromkeys(data["errors"]))  # the second sweep repeats
    emit(data, output, _render)
    ctx.exit(exits.OK if not data["left"] and not errors else exits.RUNNER)


def _close_dead_runs(
    backends: Mapping[str, TargetBackend],
    data: dict[str, Any],
    *,
    drill: str,
    run_id: str | None,
    results_dir: Path,
    wait: float,
) -> None:
    """Judge every run that holds a lock or whose record says `running` (only `run_id`, when
    given) and finalise the provably dead ones, into `data`."""
    from runner.clock import SystemClock
    from runner.engine import dead_runs

    errors: list[str] = data["errors"]
    evidence = dead_runs.lock_holders(backends)
    errors += evidence.errors
    candidates = {h.run_id for h in evidence.holders.values()}
    candidates |= {r.run_id for r in dead_runs.running_runs(results_dir, drill=drill)}
    if run_id is not None:
        candidates &= {run_id}
    clock = SystemClock()
    for candidate in sorted(candidates):
        done = dead_runs.finalise_if_dead(
            candidate, results_dir=results_dir, targets=backends, clock=clock, remove_timeout=wait
        )
        row = {
            "runId": candidate,
            "state": done.judgement.liveness.value,
            "reason": done.judgement.reason,
        }
        if done.finalised is not None:
            f = done.finalised
            data["deadRuns"].append(
                {
                    **row,
                    "faultsRemoved": list(f.removed),
                    "faultsLeft": list(f.left),
                    "locksReleased": list(f.unlocked),
                    "record": f.record,
                }
            )
            errors += list(f.errors)
        else:
            data["liveRuns"].append(row)
        errors += list(done.errors)


def _force_unlock(backends: Mapping[str, TargetBackend], data: dict[str, Any]) -> None:
    """Break each target's lock, whoever holds it (`--force-unlock`), into `data`."""
    from runner.errors import DrillError

    for name, backend in backends.items():
        try:
            holder = backend.lock.force_unlock()
        except DrillError as e:
            data["errors"].append(f"{name}: lock not broken: {e}")
        else:
            if holder is not None:
                data["unlocked"].append({"cluster": name, "holder": holder})


def _sweep(
    backends: Mapping[str, TargetBackend],
    data: dict[str, Any],
    *,
    run_id: str | None,
    older: float | None,
    force: bool,
    wait: float,
) -> None:
    """Remove drill-runner's leftovers: every target at once, and within each every leftover
    at once, bounded by --timeout; what was removed and what is left go into `data`."""
    from runner.engine import dead_runs

    def sweep_one(item: tuple[str, TargetBackend]) -> tuple[str, dead_runs.Swept]:
        name, backend = item
        return name, dead_runs.sweep_faults(
            name, backend, run_id=run_id, older_than_seconds=older, force=force, timeout=wait
        )

    with concurrent.futures.ThreadPoolExecutor(max(1, len(backends))) as pool:
        for name, result in pool.map(sweep_one, list(backends.items())):
            data["removed"] += [
                {
                    "cluster": name,
                    "kind": x.kind,
                    "name": x.name,
                    "namespace": x.namespace,
                    "runId": x.run_id,
                }
                for x in result.removed
            ]
            data["left"] += [{"cluster": name, "kind": x.kind, "name": x.name} for x in result.left]
            data["errors"] += list(result.errors)


def _render(data: dict[str, Any]) -> str:
    lines = []
    for d in data["deadRuns"]:
        did = [f"{len(d['faultsRemoved'])} fault(s) removed"]
        if d["faultsLeft"]:
            did.append(f"LEFT: {', '.join(d['faultsLeft'])}")
        if d["locksReleased"]:
            did.append(f"lock released on {', '.join(d['locksReleased'])}")
        did.append(f"record {d['record']}")
        lines.append(f"dead run {d['runId']} ({d['reason']}): {'; '.join(did)}")
    for r in data["liveRuns"]:
        if r["state"] == "running":
            lines.append(f"running  {r['runId']} ({r['reason']}): its lock is left alone")
        else:
            lines.append(
                f"unknown  {r['runId']} ({r['reason']}): its lock is left alone; it expires by "
                "itself, or break it with --force-unlock once you know the run is dead"
            )
    lines += [
        f"removed {r['cluster']}: {r['kind']} {r['namespace']}/{r['name']} (run {r['runId']})"
        for r in data["removed"]
    ]
    lines += [f"unlocked {u['cluster']} (was held by run {u['holder']})" for u in data["unlocked"]]
    lines += [f"LEFT    {x['cluster']}: {x['kind']} {x['name']}" for x in data["left"]]
    lines += [f"error   {e}" for e in data["errors"]]
    if not data["left"] and not data["errors"]:
        lines.append(
            "nothing left" if data["removed"] or data["deadRuns"] else "nothing to clean up"
        )
    return "\n".join(lines)
