"""`drillctl plan`: the exact objects each cluster would get and the ordered steps; creates nothing.

With `--server-dry-run`, each Kubernetes object is sent with dryRun=All and
fieldValidation=Strict, so the API server, the CRD schema and the Chaos Mesh webhooks
judge it without storing it; their verdicts are printed with field-level causes. An
object is "accepted" only when the answer is that object with every field that was sent
(servers before 1.25 drop unknown fields silently: that is a rejection, exit code 2).
Exit code 0 when everything is accepted, 2 when a manifest is invalid, 3 otherwise.
"""

from __future__ import annotations

import getpass
import threading
from pathlib import Path
from typing import Any

import click

from runner.cli import exits
from runner.cli.options import drill_option
from runner.cli.output import emit, output_option


@click.command()
@click.argument("scenario_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@drill_option(help="The drill file binding the scenario's clusters to targets.")
@click.option("--server-dry-run", is_flag=True, help="Have each cluster judge every object.")
@click.option("--test-failover", is_flag=True, help="Plan the test failover (nothing injected).")
@click.option("--run-id", default="plan", show_default=True, help="Run id used in the names.")
@output_option
@click.pass_context
def command(
    ctx: click.Context,
    scenario_path: Path,
    drill_path: Path,
    server_dry_run: bool,
    test_failover: bool,
    run_id: str,
    output: str,
) -> None:
    """Show the faults and steps a drill would run, exactly as they would be created."""
    from runner.backends import RunContext
    from runner.clock import SystemClock
    from runner.engine.plan import ordered_steps, render_plan
    from runner.scenario import loader

    scenario = loader.load_scenario(scenario_path, test_failover=test_failover)
    drill = loader.load_drill(drill_path)
    run = RunContext(
        run_id=run_id,
        scenario=scenario.name,
        drill=drill.name,
        operator=getpass.getuser(),
        clock=SystemClock(),
        cancel=threading.Event(),
        log=lambda _action, _details: None,
    )
    clusters: dict[str, dict[str, Any]] = {}
    worst = exits.OK
    for fault in [] if scenario.test_failover else scenario.spec.faults:
        target = drill.spec.targets.get(fault.cluster)
        entry = clusters.setdefault(fault.cluster, {"target": "", "objects": []})
        if target is None:
            raise click.UsageError(f"fault {fault.name!r}: cluster {fault.cluster!r} has no target")
        objects = _plan_fault(fault, fault.cluster, target, drill, drill_path.parent, run, entry)
        if server_dry_run and target.kubernetes is not None:
            worst = max(worst, _dry_run(fault.cluster, target, objects))
        entry["objects"] += objects
    data = {
        "scenario": scenario.name,
        "drill": drill.name,
        "runId": run_id,
        "clusters": clusters,
        "steps": [{"phase": ph, "what": what} for ph, what in ordered_steps(scenario)],
        "recipes": [r.model_dump(mode="json") for r in scenario.expansion.recipes],
        "mode": "test-failover" if scenario.test_failover else "drill",
        "testFailover": [n.model_dump(mode="json") for n in scenario.expansion.notes],
    }
    emit(data, output, lambda d: render_plan(scenario, drill, run_id=run_id, objects=_objects(d)))
    ctx.exit(worst)


def _plan_fault(
    fault: Any, cluster: str, target: Any, drill: Any, drill_dir: Path, run: Any, entry: Any
) -> list[dict[str, Any]]:
    if target.kubernetes is not None:
        from runner.chaosmesh.compile import Stamp, compile_fault

        kube = target.kubernetes
        entry["target"] = f"kube context {kube.context or '(current)'}, namespace {kube.namespace}"
        compiled = compile_fault(
            fault, namespace=kube.namespace, peers=drill.spec.targets, stamp=Stamp.of(run)
        )
        return [_row(fault.name, o.kind, o.name, o.namespace, o.manifest) for o in compiled]
    from runner.engine.targets import open_target
    from runner.errors import DrillError

    try:
        backend = open_target(cluster, target, drill_dir=drill_dir, peers=drill.spec.targets)
    except (DrillError, ImportError) as e:
        entry["target"] = f"lab (not open: {e})"
        return []
    try:
        entry["target"] = backend.description
        planned = backend.faults.plan(fault, run)
        return [_row(fault.name, p.kind, p.name, p.namespace, dict(p.manifest)) for p in planned]
    finally:
        backend.close()


def _row(fault: str, kind: str, name: str, ns: str | None, manifest: Any) -> dict[str, Any]:
    return {"fault": fault, "kind": kind, "name": name, "namespace": ns, "manifest": manifest}


def _dry_run(cluster: str, target: Any, objects: list[dict[str, Any]]) -> int:
    from runner.errors import KubeError
    from runner.kube.client import client_for_target
    from runner.kube.errors import KubeInvalidError
    from runner.kube.resources import chaos_resource

    client = client_for_target(target.kubernetes, cluster=cluster)
    worst = exits.OK
    try:
        for row in objects:
            try:
                client.create_checked(
                    chaos_resource(row["kind"]),
                    row["manifest"],
                    namespace=row["namespace"],
                    dry_run=True,
                )
                row["server"] = {"accepted": True}  # the answer is the object, every field kept
            except KubeInvalidError as e:
                row["server"] = {"accepted": False, "error": str(e), "causes": list(e.causes)}
                worst = max(worst, exits.INVALID)
            except KubeError as e:
                row["server"] = {"accepted": False, "error": str(e), "causes": []}
                worst = exits.RUNNER
    finally:
        client.close()
    return worst


def _objects(data: dict[str, Any]) -> list[str]:
    """Each cluster's objects as YAML, with the server's verdict when it was asked."""
    import yaml

    from runner.text import line

    lines = []
    for cluster, entry in data["clusters"].items():
        lines += ["", line(f"cluster {cluster} ({entry['target']}):")]
        for row in entry["objects"]:
            verdict = ""
            if "server" in row:
                server = row["server"]
                verdict = " [server: accepted]" if server["accepted"] else " [server: REJECTED]"
            lines.append(line(f"# fault {row['fault']}: {row['kind']} {row['name']}") + verdict)
            if "server" in row and not row["server"]["accepted"]:
                lines.append(line(f"#   {row['server']['error']}"))
                lines += [line(f"#   - {cause}") for cause in row["server"]["causes"]]
            lines.append("---")
            lines.append(yaml.safe_dump(row["manifest"], sort_keys=False).rstrip())
    return lines
