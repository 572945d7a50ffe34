"""#15 item 8: the least-privilege Role that docs/chaos-mesh.md prints lets `drillctl cleanup`
and `status` sweep every chaos kind, on a real kube-apiserver with RBAC; a Role naming only
the kinds a drill's faults use does not (the sweep stops at "forbidden").

The Role is read from the doc itself, so the doc and this test cannot drift apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from runner import backends
from runner.chaosmesh.provider import SWEEP_KINDS
from runner.cli.main import cli
from runner.kube.resources import chaos_resource
from tests.envtest.conftest import Envtest
from tests.envtest.helpers import scenario
from tests.kube.fake_controller import FakeChaosController

pytestmark = pytest.mark.envtest

DOC = Path(__file__).resolve().parents[2] / "docs" / "chaos-mesh.md"


def documented_rules() -> list[dict[str, Any]]:
    """The `rules:` block that follows "A Role for the runner" in docs/chaos-mesh.md."""
    text = DOC.read_text()
    after = text[text.index("A Role for the runner") :]
    block = re.search(r"```yaml\n(.*?)```", after, re.S)
    assert block is not None, "no yaml block after 'A Role for the runner'"
    rules: list[dict[str, Any]] = yaml.safe_load(block.group(1))["rules"]
    return rules


def _drill(envtest: Envtest, tmp_path: Path, ns: str) -> Path:
    """A drill whose one target is east, reached as the restricted user."""
    drill = {
        "apiVersion": "drill-runner.dev/v1alpha1",
        "kind": "Drill",
        "metadata": {"name": "rbac"},
        "spec": {
            "scenarios": [{"path": "scenario.yaml"}],
            "targets": {
                "east": {
                    "kubernetes": {
                        "kubeconfig": str(envtest.kubeconfig),
                        "context": "east-alice",
                        "namespace": ns,
                    }
                }
            },
        },
    }
    kill = {"name": "kill", "type": "pod-kill", "cluster": "east"}
    kill["selector"] = {"namespaces": ["db"]}
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(scenario(kill, clusters=("east",))))
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(drill))
    return path


def _leftover(envtest: Envtest, ns: str, kind: str, name: str, spec: dict[str, Any]) -> None:
    body = {
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "labels": {
                backends.LABEL_MANAGED_BY: backends.MANAGED_BY,
                backends.LABEL_RUN_ID: "gone-0001",
            },
        },
        "spec": {"duration": "10m", **spec},
    }
    envtest.admins["east"].create(chaos_resource(kind), body, namespace=ns, strict=False)


def test_the_documented_role_can_sweep_every_chaos_kind(
    envtest: Envtest, ns: str, tmp_path: Path, controllers: dict[str, FakeChaosController]
) -> None:
    rules = documented_rules()
    chaos = next(r for r in rules if r["apiGroups"] == ["chaos-mesh.org"])
    assert sorted(chaos["resources"]) == sorted(k.lower() for k in SWEEP_KINDS)
    drill = _drill(envtest, tmp_path, ns)
    _leftover(
        envtest,
        ns,
        "PodChaos",
        "left-pod",
        {"action": "pod-failure", "mode": "all", "selector": {"namespaces": ["db"]}},
    )
    _leftover(
        envtest,
        ns,
        "StressChaos",
        "left-stress",
        {
            "mode": "all",
            "selector": {"namespaces": ["db"]},
            "stressors": {"cpu": {"workers": 1}},
        },
    )

    # only the kind the faults use (plus the Lease): the sweep is refused on the others
    narrow = [
        {**chaos, "resources": ["podchaos"]},
        *(r for r in rules if r is not chaos),
    ]
    envtest.grant("east", ns, "narrow", narrow)
    refused = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill), "-o", "json"])
    assert refused.exit_code == 3, refused.output
    assert "forbidden" in refused.output.lower()

    envtest.grant("east", ns, "documented", rules)
    status = CliRunner().invoke(cli, ["status", "--drill", str(drill), "-o", "json"])
    assert status.exit_code == 0, status.output
    seen = {(x["kind"], x["name"]) for x in json.loads(status.output)["leftovers"]["east"]}
    assert seen == {("PodChaos", "left-pod"), ("StressChaos", "left-stress")}
    done = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill), "-o", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert sorted((x["kind"], x["name"]) for x in data["removed"]) == [
        ("PodChaos", "left-pod"),
        ("StressChaos", "left-stress"),
    ]
    assert data["left"] == [] and data["errors"] == []
    admin = envtest.admins["east"]
    for kind in ("PodChaos", "StressChaos"):
        assert admin.list(chaos_resource(kind), namespace=ns)["items"] == []
