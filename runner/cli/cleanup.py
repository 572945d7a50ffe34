"""`drillctl cleanup`: remove faults drill-runner left in every target of a drill.

Each target (Kubernetes or lab, through the same FaultProvider protocol) is swept by
drill-runner's labels, optionally for one run or older than an age; every leftover is
removed and the sweep is repeated. `--force` clears stuck Chaos Mesh finalizers (needed
when the Chaos Mesh controller is gone; the fault may then remain in the pods).
`--force-unlock` also breaks each target's drill lock (a Lease expires by itself 60 s after
its holder died; this is for when you know the holder is gone and cannot wait).
Exit code 0 when nothing is left, 3 otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from runner.cli import exits
from runner.cli.output import emit, output_option


def _age(text: str | None) -> float | None:
    if text is None:
        return None
    from runner.scenario.values import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--older-than") from None


@click.command()
@click.option(
    "--drill",
    "drill_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The drill whose targets to sweep.",
)
@click.option("--run", "run_id", default=None, help="Only faults of this run id.")
@click.option("--older-than", default=None, help="Only faults older than this (e.g. 1h).")
@click.option("--force", is_flag=True, help="Clear stuck finalizers (controller gone).")
@click.option(
    "--force-unlock", is_flag=True, help="Also break each target's lock, whoever holds it."
)
@output_option
@click.pass_context
def command(
    ctx: click.Context,
    drill_path: Path,
    run_id: str | None,
    older_than: str | None,
    force: bool,
    force_unlock: bool,
    output: str,
) -> None:
    """Remove faults left by drill-runner in every target of a drill."""
    from runner.engine.dead_runs import sweep_faults
    from runner.engine.targets import open_targets
    from runner.errors import DrillError
    from runner.scenario import loader

    older = _age(older_than)
    drill = loader.load_drill(drill_path)
    removed: list[dict[str, Any]] = []
    errors: list[str] = []
    left: list[dict[str, Any]] = []
    unlocked: list[dict[str, Any]] = []
    with open_targets(drill, drill_dir=drill_path.parent) as backends:
        for name, backend in backends.items():
            if force_unlock:
                try:
                    holder = backend.lock.force_unlock()
                except DrillError as e:
                    errors.append(f"{name}: lock not broken: {e}")
                else:
                    if holder is not None:
                        unlocked.append({"cluster": name, "holder": holder})
            swept = sweep_faults(
                name, backend, run_id=run_id, older_than_seconds=older, force=force
            )
            removed += [
                {
                    "cluster": name,
                    "kind": x.kind,
                    "name": x.name,
                    "namespace": x.namespace,
                    "runId": x.run_id,
                }
                for x in swept.removed
            ]
            left += [{"cluster": name, "kind": x.kind, "name": x.name} for x in swept.left]
            errors += swept.errors
    data = {"removed": removed, "left": left, "errors": errors, "unlocked": unlocked}
    emit(data, output, _render)
    ctx.exit(exits.OK if not left and not errors else exits.RUNNER)


def _render(data: dict[str, Any]) -> str:
    lines = [
        f"removed {r['cluster']}: {r['kind']} {r['namespace']}/{r['name']} (run {r['runId']})"
        for r in data["removed"]
    ]
    lines += [f"unlocked {u['cluster']} (was held by run {u['holder']})" for u in data["unlocked"]]
    lines += [f"LEFT    {x['cluster']}: {x['kind']} {x['name']}" for x in data["left"]]
    lines += [f"error   {e}" for e in data["errors"]]
    if not data["left"] and not data["errors"]:
        lines.append("nothing left" if data["removed"] else "nothing to clean up")
    return "\n".join(lines)
