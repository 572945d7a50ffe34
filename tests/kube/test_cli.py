"""`drillctl plan` and `drillctl cleanup` against the emulator, including a SIGKILLed runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from runner import backends
from runner.cli.main import cli
from runner.kube.client import KubeClient
from runner.kube.resources import chaos_resource
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.kube.cli_files import write_files
from tests.kube.conftest import NS
from tests.kube.fake_controller import FakeChaosController


def test_plan_prints_manifests_and_steps_and_creates_nothing(
    tmp_path: Path, emulator: KubeEmulatorThread, kube: KubeClient
) -> None:
    scenario, drill = write_files(tmp_path, emulator.url)
    result = CliRunner().invoke(cli, ["plan", str(scenario), "--drill", str(drill), "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = data["clusters"]["east"]["objects"]
    assert [(r["fault"], r["kind"], r["name"]) for r in rows] == [
        ("east-down", "PodChaos", "plan-east-down"),
        ("east-down", "NetworkChaos", "plan-east-down-net"),
        ("cut", "NetworkChaos", "plan-cut"),
    ]
    assert rows[2]["manifest"]["spec"]["externalTargets"] == ["10.2.0.0/16"]
    assert {"phase": "failover", "what": "promote west (patch on west; timeout 5m)"} in data[
        "steps"
    ]
    text = CliRunner().invoke(cli, ["plan", str(scenario), "--drill", str(drill)]).output
    assert "kind: PodChaos" in text and "steps:" in text
    assert kube.list(chaos_resource("PodChaos"), namespace=NS)["items"] == []


def test_plan_server_dry_run_reports_verdicts(
    tmp_path: Path, emulator: KubeEmulatorThread, kube: KubeClient
) -> None:
    scenario, drill = write_files(tmp_path, emulator.url)
    args = ["plan", str(scenario), "--drill", str(drill), "--server-dry-run", "-o", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["clusters"]["east"]["objects"]
    assert all(r["server"] == {"accepted": True} for r in rows)
    assert kube.list(chaos_resource("NetworkChaos"), namespace=NS)["items"] == []
    emulator.call(lambda h: h.denied.add(("create", "podchaos")))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3
    rows = json.loads(result.output)["clusters"]["east"]["objects"]
    assert "forbidden" in rows[0]["server"]["error"] and rows[1]["server"]["accepted"]
    assert "t0ken" not in result.output


def test_cleanup_after_sigkilled_runner(
    tmp_path: Path, emulator: KubeEmulatorThread, kube: KubeClient, controller: FakeChaosController
) -> None:
    scenario, drill = write_files(tmp_path, emulator.url)
    child = textwrap.dedent(f"""
        import threading, time
        from runner.backends import RunContext
        from runner.chaosmesh.backend import open_kubernetes_target
        from runner.clock import SystemClock
        from runner.scenario import loader
        from pathlib import Path
        d = loader.load_drill({str(drill)!r}); s = loader.load_scenario({str(scenario)!r})
        b = open_kubernetes_target("east", d.spec.targets["east"],
                                   drill_dir=Path({str(tmp_path)!r}), peers=d.spec.targets)
        run = RunContext(run_id="doomed", scenario=s.name, drill=d.name, operator="ci",
                         clock=SystemClock(), cancel=threading.Event(), log=lambda a, x: None)
        b.lock.acquire(run)
        for f in s.spec.faults:
            b.faults.inject(f, run, lambda h: print("created", h.kind, h.name, flush=True))
        print("ready", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        lines = []
        while (line := proc.stdout.readline()) and not line.startswith("ready"):  # type: ignore[union-attr]
            lines.append(line.split())
        assert len(lines) == 3, lines
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    for _, kind, name in lines:
        left = kube.get(chaos_resource(kind), name, namespace=NS)
        assert left["spec"]["duration"]  # Chaos Mesh recovers it by itself even if nobody cleans
        assert left["metadata"]["labels"][backends.LABEL_RUN_ID] == "doomed"
    result = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill), "--run", "doomed"])
    assert result.exit_code == 0, result.output
    assert result.output.count("removed east:") == 3 and "nothing left" in result.output
    for _, kind, name in lines:
        assert kube.get_or_none(chaos_resource(kind), name, namespace=NS) is None
    again = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill)])
    assert again.exit_code == 0 and "nothing to clean up" in again.output


def test_cleanup_force_clears_stuck_finalizers(
    tmp_path: Path, emulator: KubeEmulatorThread, kube: KubeClient, controller: FakeChaosController
) -> None:
    _, drill = write_files(tmp_path, emulator.url)
    controller.behaviour["stuck"] = "stuck-finalizer"
    obj = {
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": "PodChaos",
        "metadata": {
            "name": "r9-stuck",
            "labels": {
                backends.LABEL_MANAGED_BY: backends.MANAGED_BY,
                backends.LABEL_RUN_ID: "r9",
                backends.LABEL_FAULT: "stuck",
            },
        },
        "spec": {
            "action": "pod-failure",
            "mode": "all",
            "selector": {"namespaces": ["db"]},
            "duration": "1m",
        },
    }
    kube.create(chaos_resource("PodChaos"), obj, namespace=NS)
    for _type, seen in kube.watch(
        chaos_resource("PodChaos"), namespace=NS, timeout=5, name="r9-stuck"
    ):
        if seen["metadata"].get("finalizers"):
            break  # the controller took it over
    kube.delete(chaos_resource("PodChaos"), "r9-stuck", namespace=NS)  # now stuck terminating
    emulator.call(lambda h: setattr(h, "webhook_down", True))
    result = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill), "--force"])
    assert result.exit_code == 3
    assert "cannot clear the finalizers" in result.output and "webhook" in result.output
    emulator.call(lambda h: setattr(h, "webhook_down", False))
    result = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill), "--force"])
    assert result.exit_code == 0, result.output
    assert kube.get_or_none(chaos_resource("PodChaos"), "r9-stuck", namespace=NS) is None
