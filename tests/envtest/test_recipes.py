"""The shipped recipes on two real kube-apiservers with the upstream CRDs installed.

For each recipe: every object it generates (each patch, each created object, each
list-item write, with its placeholders filled as the engine fills them) passes a
server-side dry-run, and the server kept every field we sent (a 1.20 server prunes
unknown fields silently, so "accepted" alone proves little); the recipe runs end to end
through `drillctl run` against a stand-in controller playing the operator's status
transitions (tests/envtest/operators.py: our side of the contract, not the operator's);
and preflight refuses, before any fault, when the CRD or the object is missing.

The operator CRDs (tests/fixtures/operators/) are installed on "east"; "west" gets only
CloudNativePG's (the switchover spans both clusters), so "west" is where a missing CRD
is refused.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from runner.chaosmesh.kube_steps import resource_for
from runner.cli.main import cli
from runner.kube.client import KubeClient
from runner.kube.resources import Resource
from runner.scenario import loader, model, templates
from tests.envtest import operators as op
from tests.envtest.conftest import CLUSTERS, Envtest
from tests.envtest.helpers import missing_leaves
from tests.envtest.status import status_of
from tests.kube.fake_controller import FakeChaosController

pytestmark = pytest.mark.envtest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "operators"
WEST_ONLY = ("cloudnative-pg/",)


def res(api_version: str, kind: str) -> Resource:
    return resource_for(kind, api_version)


RESTORE = res("velero.io/v1", "Restore")
BACKUP = res("velero.io/v1", "Backup")
SCHEDULE = res("velero.io/v1", "Schedule")
CNPG = res("postgresql.cnpg.io/v1", "Cluster")
APP = res("argoproj.io/v1alpha1", "Application")
KUSTOMIZATION = res("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
HELMRELEASE = res("helm.toolkit.fluxcd.io/v2", "HelmRelease")
KCLUSTER = res("cluster.karmada.io/v1alpha1", "Cluster")
BINDING = res("work.karmada.io/v1alpha2", "ResourceBinding")
DRPC = res("ramendr.openshift.io/v1alpha1", "DRPlacementControl")
GSLB = res("k8gb.io/v1beta1", "Gslb")
DNSENDPOINT = res("externaldns.k8s.io/v1alpha1", "DNSEndpoint")


# --------------------------------------------------------------------------- fixtures


def crd_files() -> list[Path]:
    return sorted(FIXTURES.rglob("*.yaml"))


@pytest.fixture(scope="session")
def operators(envtest: Envtest) -> Envtest:
    """The operator CRDs installed (a plain POST, as `kubectl create --validate=false`)."""
    for cluster in CLUSTERS:
        docs = []
        for path in crd_files():
            rel = path.relative_to(FIXTURES).as_posix()
            if cluster == "east" or rel.startswith(WEST_ONLY):
                docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
        envtest.planes[cluster].install_crds(envtest.admins[cluster], docs)
    return envtest


def test_the_fixtures_are_the_upstream_files_named_in_source_md() -> None:
    table = (FIXTURES / "SOURCE.md").read_text()
    row = r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| [0-9a-f]{40} \| [^|]+ \| ([0-9a-f]{12}) \|$"
    rows = re.findall(row, table, re.M)
    assert {Path(p) for p, _ in rows} == {p.relative_to(FIXTURES) for p in crd_files()}
    for rel, blob in rows:
        got = subprocess.run(
            ["git", "hash-object", str(FIXTURES / rel)], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert got.startswith(blob), rel


@pytest.fixture
def east(operators: Envtest) -> Iterator[KubeClient]:
    c = operators.client("east")
    yield c
    c.close()


def write(
    envtest: Envtest, tmp_path: Path, ns: str, scenario: str
) -> tuple[Path, Path, model.Scenario]:
    """The scenario (with {ns} filled) and a drill binding east and west to the servers."""
    targets = {
        name: {
            "kubernetes": {
                "kubeconfig": str(envtest.kubeconfig),
                "context": f"{name}-admin",
                "namespace": ns,
            },
        }
        for name in CLUSTERS
    }
    drill = {
        "apiVersion": "drill-runner.dev/v1alpha1",
        "kind": "Drill",
        "metadata": {"name": "recipes"},
        "spec": {"scenarios": [{"path": "scenario.yaml"}], "targets": targets},
    }
    (tmp_path / "scenario.yaml").write_text(textwrap.dedent(scenario).replace("{ns}", ns))
    (tmp_path / "drill.yaml").write_text(yaml.safe_dump(drill))
    return (
        tmp_path / "scenario.yaml",
        tmp_path / "drill.yaml",
        loader.load_scenario(tmp_path / "scenario.yaml"),
    )


def header(name: str, ns: str, fault_cluster: str = "west") -> str:
    return f"""\
apiVersion: drill-runner.dev/v1alpha1
kind: Scenario
metadata: {{name: {name}}}
spec:
  clusters: [{{name: east}}, {{name: west}}]
  faults:
    - {{name: lose-{fault_cluster}, type: cluster-loss, cluster: {fault_cluster},
       namespaces: [{ns}], duration: 5m}}
  timeouts: {{observe: 1s, steadyState: 0s}}
"""


def run(
    scenario: Path, drill: Path, tmp_path: Path, *extra: str
) -> tuple[int, dict[str, Any], str]:
    """`drillctl run` in-process; the exit code, run.json and the output."""
    results = tmp_path / "results"
    args = ["run", str(scenario), "--drill", str(drill), "--results", str(results), "--yes"]
    result = CliRunner().invoke(cli, [*args, *extra], standalone_mode=False)
    records = sorted(results.glob("*/run.json"))
    assert len(records) == 1, (result.output, result.exception)
    code = result.return_value if isinstance(result.return_value, int) else result.exit_code
    return code, json.loads(records[0].read_text()), result.output


def steps_by_name(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in record["steps"]}


@pytest.fixture
def chaos(envtest: Envtest, ns: str) -> Iterator[None]:
    """The fake Chaos Mesh controller on both clusters, so the drill's fault is confirmed."""
    clients = {name: envtest.client(name) for name in CLUSTERS}
    ctls = [FakeChaosController(c, ns, watch_timeout=1.0) for c in clients.values()]
    for ctl in ctls:
        ctl.__enter__()
    try:
        yield
    finally:
        for ctl in ctls:
            ctl.__exit__(None, None, None)
        for c in clients.values():
            c.close()


# --------------------------------------------------------------------------- dry-run


def dry_run_every_object(
    envtest: Envtest, scenario: model.Scenario, ns: str, values: dict[str, str]
) -> list[str]:
    """Server-side dry-run of every object the recipes' steps write, placeholders filled
    with `values` (as the engine would). Returns what was judged, for the assertions; a
    rejection or a pruned field fails the test."""
    values = {"run.id": "dry-0001", "run.short": "dry-0001", "run.now": op.now(), **values}
    judged: list[str] = []
    for phase in ("baseline", "failover", "failback"):
        for step in scenario.steps_of(phase):
            if step.origin is None:
                continue
            step = templates.resolve_step(step, values)
            cluster = step.cluster or ""
            admin = envtest.admins[cluster]
            if isinstance(step, model.PatchStep):
                t = step.target
                r = res(t.api_version or "", t.kind)
                got = admin.patch(r, t.name, step.patch, namespace=t.namespace or ns, dry_run=True)
                assert_applied(step.patch, got, step.name)
                judged.append(f"patch {t.kind} {t.name}")
            elif isinstance(step, model.ApplyStep):
                m = step.manifest
                r = res(m["apiVersion"], m["kind"])
                got = admin.create(
                    r, m, namespace=m["metadata"].get("namespace") or ns, dry_run=True, strict=False
                )
                assert missing_leaves(m, got) == [], step.name
                judged.append(f"create {m['kind']} {m['metadata']['name']}")
            elif isinstance(step, model.ListItemStep):
                t = step.target
                r = res(t.api_version or "", t.kind)
                obj = admin.get(r, t.name, namespace=ns if r.namespaced else None)
                spec = obj.setdefault("spec", {})
                items = [i for i in spec.get("taints") or [] if i.get("key") != step.match["key"]]
                spec["taints"] = items if step.remove else [*items, step.item]
                got = admin.replace(r, t.name, obj, namespace=None, dry_run=True)
                assert missing_leaves(spec, got["spec"]) == [], step.name
                judged.append(f"update {t.kind} {t.name}")
            elif isinstance(step, model.DeleteStep):
                judged.append(f"delete {step.target.kind} (the object it made)")
    return judged


def assert_applied(patch: Any, got: Any, what: str) -> None:
    """Every value of a merge patch is in the result; a null is a removed key."""
    if isinstance(patch, dict):
        assert isinstance(got, dict), what
        for key, value in patch.items():
            if value is None:
                assert key not in got, (what, key)
            else:
                assert key in got, (what, key)
                assert_applied(value, got[key], f"{what}.{key}")
    else:
        assert patch == got, what


# --------------------------------------------------------------------------- Velero


def velero_objects(admin: KubeClient, ns: str) -> None:
    schedule = {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 1 * * *", "template": {"includedNamespaces": ["orders"]}},
    }
    admin.create(SCHEDULE, schedule, namespace=ns, strict=False)
    for name, phase, start, done in (
        ("nightly-1", "Completed", "2026-01-01T01:00:00Z", "2026-01-01T01:04:00Z"),
        ("nightly-2", "Completed", "2026-01-02T01:00:00Z", "2026-01-02T01:05:30Z"),
        ("nightly-3", "PartiallyFailed", "2026-01-03T01:00:00Z", "2026-01-03T01:05:00Z"),
    ):
        backup = {
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "metadata": {"name": name, "labels": {"velero.io/schedule-name": "nightly"}},
            "spec": {"includedNamespaces": ["orders"]},
            # Backup has no status subresource: the status is written with the object
            "status": {"phase": phase, "startTimestamp": start, "completionTimestamp": done},
        }
        admin.create(BACKUP, backup, namespace=ns, strict=False)


def velero_scenario(ns: str, objectives: str = "{rto: 10m, rpo: 365d}") -> str:
    return (
        header("velero-restore", ns)
        + f"""\
  failover:
    steps:
      - name: restore orders
        uses: velero.restore
        cluster: east
        with:
          schedule: nightly
          veleroNamespace: {ns}
          namespaces: [orders]
          timeout: 30s
          testNamespaceMapping: {{orders: orders-drill}}
  objectives: {objectives}
"""
    )


def test_velero_restore_objects_pass_a_server_dry_run(
    operators: Envtest, ns: str, tmp_path: Path
) -> None:
    velero_objects(operators.admins["east"], ns)
    for test_failover in (False, True):
        _, _, _ = write(operators, tmp_path, ns, velero_scenario(ns))
        sc = loader.load_scenario(tmp_path / "scenario.yaml", test_failover=test_failover)
        judged = dry_run_every_object(
            operators, sc, ns, {"captured.velero-restore.backup": "nightly-2"}
        )
        assert judged[0] == "create Restore velero-restore-dry-0001", judged


def test_velero_restore_runs_end_to_end_and_measures_rto_and_rpo(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    velero_objects(operators.admins["east"], ns)
    scenario, drill, _ = write(operators, tmp_path, ns, velero_scenario(ns))
    with op.StandIn(east, RESTORE, ns, op.velero_restore(warnings=2), status_subresource=False):
        code, record, output = run(scenario, drill, tmp_path)
    assert code == 0, output
    assert record["status"] == "passed", record["reason"]
    captured = record["captured"]
    # the newest *Completed* backup (nightly-3 is newer but PartiallyFailed)
    assert captured["velero-restore.backup"] == "nightly-2"
    assert captured["velero-restore.warnings"] == "2" and captured["velero-restore.errors"] == "0"
    restore = operators.admins["east"].get(
        RESTORE, f"velero-restore-{record['runId'][-20:]}", namespace=ns
    )
    assert restore["spec"] == {
        "backupName": "nightly-2",
        "includedNamespaces": ["orders"],
        "namespaceMapping": {},
    }
    # RTO: the restore's own timestamps (whole seconds: ±1 s); an oracle from the object
    start = op.parse(restore["status"]["startTimestamp"])
    done = op.parse(restore["status"]["completionTimestamp"])
    rto = record["measurements"]["rto"]
    assert rto["status"] == "met"
    took = (done - start).total_seconds()
    assert rto["lowerSeconds"] == pytest.approx(max(0.0, took - 1), abs=1e-6)
    assert rto["upperSeconds"] == pytest.approx(took + 1, abs=1e-6)
    # RPO: fault start minus a snapshot point somewhere in [01:00:00, 01:05:31) of Jan 2
    fault_start = op.parse(record["timeline"]["faultStart"])
    rpo = record["measurements"]["rpo"]
    lo = (fault_start - op.parse("2026-01-02T01:05:30Z")).total_seconds() - 1
    hi = (fault_start - op.parse("2026-01-02T01:00:00Z")).total_seconds()
    assert rpo["lowerSeconds"] == pytest.approx(lo, abs=0.01)
    assert rpo["upperSeconds"] == pytest.approx(hi, abs=0.01)
    assert [f["recoveredAt"] is not None for f in record["faults"]] == [True]


def test_velero_completed_with_item_errors_fails_the_drill(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    velero_objects(operators.admins["east"], ns)
    scenario, drill, _ = write(operators, tmp_path, ns, velero_scenario(ns))
    with op.StandIn(east, RESTORE, ns, op.velero_restore(errors=3), status_subresource=False):
        code, record, _ = run(scenario, drill, tmp_path)
    assert record["status"] == "error" and code == 3
    wait = steps_by_name(record)["restore orders: wait for the restore"]
    assert wait["status"] == "failed"
    assert "meets the failure condition status.errors > 0" in wait["error"]
    assert "status.errors = 3" in wait["error"]
    assert "rto" not in record["measurements"]  # never a pass, never a measurement
    assert all(f["recoveredAt"] for f in record["faults"])


def test_velero_test_failover_restores_into_scratch_and_injects_nothing(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    velero_objects(operators.admins["east"], ns)
    scenario, drill, _ = write(operators, tmp_path, ns, velero_scenario(ns))
    with op.StandIn(east, RESTORE, ns, op.velero_restore(), status_subresource=False):
        code, record, output = run(scenario, drill, tmp_path, "--test-failover")
    assert code == 0, output
    assert record["mode"] == "test-failover" and record["faults"] == []
    assert record["reason"].startswith("test failover (nothing injected, production untouched)")
    notes = {(n["what"], n["step"]) for n in record["testFailover"]}
    assert ("not injected", "lose-west") in notes
    assert ("redirected", "restore orders") in notes
    name = f"velero-restore-{record['runId'][-20:]}"
    created = [s for s in record["steps"] if s["name"].endswith("into scratch namespaces")]
    assert created and created[0]["status"] == "succeeded"
    # the Restore went to the scratch namespace and was deleted at failback
    assert operators.admins["east"].get_or_none(RESTORE, name, namespace=ns) is None
    assert steps_by_name(record)["restore orders: delete the test restore"]["status"] == (
        "succeeded"
    )
    assert record["measurements"]["rto"]["status"] == "met"


def test_velero_preflight_refuses_a_missing_crd_and_a_missing_schedule(
    operators: Envtest, ns: str, tmp_path: Path, chaos: None
) -> None:
    on_west = velero_scenario(ns).replace("cluster: east", "cluster: west")
    scenario, drill, _ = write(operators, tmp_path, ns, on_west)
    code, record, output = run(scenario, drill, tmp_path)
    assert code == 3 and record["status"] == "error" and record["faults"] == [], output
    assert (
        "the Schedule exists': kind Schedule (velero.io/v1) is not served by cluster 'west': "
        "is its CRD installed" in record["reason"]
    )
    (tmp_path / "results").rename(tmp_path / "results-1")
    scenario, drill, _ = write(operators, tmp_path, ns, velero_scenario(ns))  # nothing created
    code, record, output = run(scenario, drill, tmp_path)
    assert code == 3 and record["status"] == "error" and record["faults"] == [], output
    assert f"Schedule {ns}/nightly does not exist on cluster 'east'" in record["reason"]
    assert "is Velero installed and the Schedule named right?" in record["reason"]


# --------------------------------------------------------------------------- CloudNativePG


def cnpg_cluster(name: str, primary: str) -> dict[str, Any]:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "instances": 1,
            "storage": {"size": "1Gi"},
            "replica": {"self": name, "primary": primary, "source": primary},
            "externalClusters": [
                {"name": n, "connectionParameters": {"host": f"{n}-rw", "dbname": "postgres"}}
                for n in ("db-east", "db-west")
            ],
        },
    }


def cnpg_objects(envtest: Envtest, ns: str) -> None:
    """db-east (on east) is primary; db-west (on west) is a replica cluster following it."""
    for cluster, name, current in (("east", "db-east", True), ("west", "db-west", False)):
        admin = envtest.admins[cluster]
        admin.create(CNPG, cnpg_cluster(name, "db-east"), namespace=ns, strict=False)
        st: dict[str, Any] = {"timelineID": 1, "phase": "Cluster in healthy state"}
        if current:
            st["currentPrimary"] = f"{name}-1"
        admin.patch(status_of(CNPG), name, {"status": st}, namespace=ns)


def cnpg_scenario(ns: str) -> str:
    return (
        header("cnpg-switchover", ns, fault_cluster="east")
        + f"""\
  failover:
    steps:
      - name: switch over to west
        uses: cloudnative-pg.switchover
        id: to-west
        cluster: west
        with: {{primary: db-east, primaryCluster: east, replica: db-west, namespace: {ns},
                timeout: 30s}}
  failback:
    steps:
      - name: switch back to east
        uses: cloudnative-pg.switchover
        id: to-east
        cluster: east
        with: {{primary: db-west, primaryCluster: west, replica: db-east, namespace: {ns},
                timeout: 30s}}
"""
    )


def test_cloudnative_pg_objects_pass_a_server_dry_run(
    operators: Envtest, ns: str, tmp_path: Path
) -> None:
    cnpg_objects(operators, ns)
    _, _, sc = write(operators, tmp_path, ns, cnpg_scenario(ns))
    judged = dry_run_every_object(
        operators,
        sc,
        ns,
        {
            "captured.to-west.token": "dG9rZW4=",
            "captured.to-east.token": "eA==",
            "captured.to-west.timeline": "1",
            "captured.to-east.timeline": "1",
        },
    )
    assert judged == [
        "patch Cluster db-east",
        "patch Cluster db-west",
        "patch Cluster db-west",
        "patch Cluster db-east",
    ]
    promote = tmp_path / "promote.yaml"
    promote.write_text(
        header("cnpg-promote", ns, fault_cluster="east")
        + f"""\
  failover:
    steps:
      - {{name: promote, uses: cloudnative-pg.promote, cluster: west,
         with: {{cluster: db-west, namespace: {ns}}}}}
"""
    )
    values = {"captured.cloudnative-pg-promote.timeline": "1"}
    judged = dry_run_every_object(operators, loader.load_scenario(promote), ns, values)
    assert judged == ["patch Cluster db-west"]


def test_cloudnative_pg_switchover_and_back_with_the_demotion_token(
    operators: Envtest, ns: str, tmp_path: Path, chaos: None
) -> None:
    cnpg_objects(operators, ns)
    scenario, drill, _ = write(operators, tmp_path, ns, cnpg_scenario(ns))
    clients = [operators.client(c) for c in CLUSTERS]
    try:
        with (
            op.StandIn(clients[0], CNPG, ns, op.cnpg()),
            op.StandIn(clients[1], CNPG, ns, op.cnpg()),
        ):
            code, record, output = run(scenario, drill, tmp_path)
    finally:
        for c in clients:
            c.close()
    assert code == 0, output
    assert record["status"] == "passed"
    captured = record["captured"]
    # the token path: east demoted on timeline 1 and handed its token to west, which
    # promoted to timeline 2 with exactly that token; back: west's token promoted east
    # (to east's own next timeline), never a rebuild. The record keeps the timelines; the
    # tokens are redacted there, like every value whose name says token.
    assert captured["to-west.timeline"] == "1" and captured["to-west.timelineAfter"] == "2"
    assert captured["to-east.timelineAfter"] == "2"
    assert captured["to-west.token"] == captured["to-east.token"] == "<redacted>"
    assert "token-db" not in json.dumps(record)
    east = operators.admins["east"].get(CNPG, "db-east", namespace=ns)
    west = operators.admins["west"].get(CNPG, "db-west", namespace=ns)
    assert east["spec"]["replica"]["primary"] == "db-east" == west["spec"]["replica"]["primary"]
    assert west["status"]["lastPromotionToken"] == "token-db-east-tl1"
    assert east["status"]["lastPromotionToken"] == "token-db-west-tl2"
    assert east["spec"]["replica"]["promotionToken"] == "token-db-west-tl2"
    assert [t["name"] for t in record["timings"]] == ["CloudNativePG switchover"] * 2


def test_cloudnative_pg_promote_end_to_end_moves_the_replica_to_a_new_timeline(
    operators: Envtest, ns: str, tmp_path: Path, chaos: None
) -> None:
    cnpg_objects(operators, ns)
    text = (
        header("cnpg-promote", ns, fault_cluster="east")
        + f"""\
  failover:
    steps:
      - {{name: promote, uses: cloudnative-pg.promote, cluster: west,
         with: {{cluster: db-west, namespace: {ns}, timeout: 30s}}}}
"""
    )
    scenario, drill, _ = write(operators, tmp_path, ns, text)
    west = operators.client("west")
    try:
        with op.StandIn(west, CNPG, ns, op.cnpg()):
            code, record, output = run(scenario, drill, tmp_path)
    finally:
        west.close()
    assert code == 0, output
    captured = record["captured"]
    assert captured["cloudnative-pg-promote.primaryBefore"] == "db-east"
    assert captured["cloudnative-pg-promote.timeline"] == "1"
    assert captured["cloudnative-pg-promote.timelineAfter"] == "2"
    assert captured["cloudnative-pg-promote.currentPrimary"] == "db-west-1"
    promoted = operators.admins["west"].get(CNPG, "db-west", namespace=ns)
    assert promoted["spec"]["replica"]["primary"] == "db-west"
    assert "promotionToken" not in promoted["spec"]["replica"]  # unplanned: no token
    (timing,) = record["timings"]
    assert timing["name"] == "CloudNativePG promotion" and timing["seconds"] > 0


def test_cloudnative_pg_preflight_refuses_a_cluster_that_is_not_the_primary(
    operators: Envtest, ns: str, tmp_path: Path, chaos: None
) -> None:
    cnpg_objects(operators, ns)
    swapped = cnpg_scenario(ns).replace(
        "primary: db-east, primaryCluster: east", "primary: db-west, primaryCluster: west", 1
    )
    swapped = swapped.replace("replica: db-west, namespace", "replica: db-east, namespace", 1)
    swapped = swapped.replace(
        "id: to-west\n        cluster: west", "id: to-west\n        cluster: east", 1
    )
    scenario, drill, _ = write(operators, tmp_path, ns, swapped)
    code, record, output = run(scenario, drill, tmp_path)
    assert code == 3 and record["status"] == "error" and record["faults"] == [], output
    assert "does not meet spec.replica.primary == db-west" in record["reason"]
    assert "(seen: spec.replica.primary = 'db-east')" in record["reason"]


# --------------------------------------------------------------------------- Argo CD, Flux


def gitops_objects(admin: KubeClient, ns: str) -> None:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "orders"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://git.example.com/orders.git",
                "path": "deploy",
                "targetRevision": "HEAD",
            },
            "destination": {"name": "primary", "namespace": "orders"},
        },
        "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}},
    }
    admin.create(APP, app, namespace=ns, strict=False)
    ks = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "orders-db"},
        "spec": {
            "interval": "10m",
            "prune": True,
            "path": "./db",
            "suspend": True,
            "sourceRef": {"kind": "GitRepository", "name": "orders"},
        },
    }
    admin.create(KUSTOMIZATION, ks, namespace=ns, strict=False)
    hr = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "orders-ingress"},
        "spec": {
            "interval": "10m",
            "suspend": True,
            "chart": {
                "spec": {
                    "chart": "ingress",
                    "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                }
            },
        },
    }
    admin.create(HELMRELEASE, hr, namespace=ns, strict=False)


def gitops_scenario(ns: str) -> str:
    return (
        header("gitops", ns)
        + f"""\
  failover:
    steps:
      - name: activate the standby
        uses: flux.reconcile
        cluster: east
        with: {{kustomizations: [orders-db], helmReleases: [orders-ingress], namespace: {ns},
                patch: {{spec: {{suspend: false}}}}, timeout: 30s}}
      - name: move orders
        uses: argocd.sync
        cluster: east
        with:
          application: orders
          namespace: {ns}
          timeout: 30s
          patch: {{spec: {{destination: {{name: standby, namespace: orders}}}}}}
"""
    )


def test_argocd_and_flux_objects_pass_a_server_dry_run(
    operators: Envtest, ns: str, tmp_path: Path
) -> None:
    gitops_objects(operators.admins["east"], ns)
    _, _, sc = write(operators, tmp_path, ns, gitops_scenario(ns))
    judged = dry_run_every_object(operators, sc, ns, {})
    assert judged == [
        "patch Kustomization orders-db",
        "patch HelmRelease orders-ingress",
        "patch Kustomization orders-db",
        "patch HelmRelease orders-ingress",
        "patch Application orders",
        "patch Application orders",
    ]


def test_argocd_and_flux_run_end_to_end(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    gitops_objects(operators.admins["east"], ns)
    scenario, drill, _ = write(operators, tmp_path, ns, gitops_scenario(ns))
    other = operators.client("east")
    try:
        with (
            op.StandIn(east, APP, ns, op.argocd(), status_subresource=False) as argo,
            op.StandIn(other, KUSTOMIZATION, ns, op.flux()),
            op.StandIn(other, HELMRELEASE, ns, op.flux()),
        ):
            code, record, output = run(scenario, drill, tmp_path)
    finally:
        other.close()
    assert code == 0, output
    assert record["status"] == "passed", record["reason"]
    app = operators.admins["east"].get(APP, "orders", namespace=ns)
    assert app["spec"]["destination"]["name"] == "standby"
    op_state = app["status"]["operationState"]["operation"]
    assert op_state["initiatedBy"]["username"] == f"drill-runner-{record['runId'][-20:]}"
    assert "operation" not in app
    assert len(argo.seen) == 1  # one sync operation, no more
    ks = operators.admins["east"].get(KUSTOMIZATION, "orders-db", namespace=ns)
    assert ks["spec"]["suspend"] is False
    requested = ks["metadata"]["annotations"][op.REQUESTED_AT]
    assert ks["status"]["lastHandledReconcileAt"] == requested
    assert record["captured"]["argocd-sync.syncBefore"] == "Synced"


def test_flux_ready_false_for_our_request_fails_at_once(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    gitops_objects(operators.admins["east"], ns)
    scenario, drill, _ = write(operators, tmp_path, ns, gitops_scenario(ns))
    with op.StandIn(east, KUSTOMIZATION, ns, op.flux(ready_value="False")):
        code, record, _ = run(scenario, drill, tmp_path)
    assert code == 3 and record["status"] == "error"
    failed = [s for s in record["steps"] if s["status"] == "failed"]
    assert failed[0]["name"] == "activate the standby: wait for Kustomization orders-db"
    assert "meets the failure condition" in failed[0]["error"]
    assert "within" not in failed[0]["error"]  # at once, not at the timeout


# --------------------------------------------------------------------------- Karmada


def karmada_objects(admin: KubeClient, ns: str) -> None:
    for member in ("member-a", "member-b"):
        cluster = {
            "apiVersion": "cluster.karmada.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": f"{member}-{ns}"[:63]},
            "spec": {
                "syncMode": "Push",
                "apiEndpoint": "https://10.0.0.1:6443",
                "taints": [{"key": "team", "value": "db", "effect": "NoSchedule"}],
            },
        }
        admin.create(KCLUSTER, cluster, namespace=None, strict=False)
    for name in ("orders-deployment", "orders-service"):
        binding = {
            "apiVersion": "work.karmada.io/v1alpha2",
            "kind": "ResourceBinding",
            "metadata": {"name": name},
            "spec": {
                "resource": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "orders",
                    "namespace": ns,
                },
                "clusters": [
                    {"name": f"{m}-{ns}"[:63], "replicas": 1} for m in ("member-a", "member-b")
                ],
            },
        }
        admin.create(BINDING, binding, namespace=ns, strict=False)


def karmada_scenario(ns: str) -> str:
    member = f"member-a-{ns}"[:63]
    return (
        header("karmada", ns)
        + f"""\
  failover:
    steps:
      - name: lose member a
        uses: karmada.cluster-failover
        cluster: east
        with: {{member: {member}, namespace: {ns}, bindings: [orders-deployment, orders-service],
                timeout: 30s}}
  failback:
    steps:
      - name: bring member a back
        uses: karmada.cluster-failback
        cluster: east
        with: {{member: {member}, namespace: {ns}, bindings: [orders-deployment, orders-service],
                timeout: 30s}}
"""
    )


def test_karmada_objects_pass_a_server_dry_run(operators: Envtest, ns: str, tmp_path: Path) -> None:
    karmada_objects(operators.admins["east"], ns)
    _, _, sc = write(operators, tmp_path, ns, karmada_scenario(ns))
    judged = dry_run_every_object(operators, sc, ns, {})
    member = f"member-a-{ns}"[:63]
    assert judged == [
        f"update Cluster {member}",
        f"update Cluster {member}",
        "patch ResourceBinding orders-deployment",
        "patch ResourceBinding orders-service",
    ]


def test_karmada_failover_and_failback_end_to_end(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    karmada_objects(operators.admins["east"], ns)
    scenario, drill, _ = write(operators, tmp_path, ns, karmada_scenario(ns))
    members = [f"{m}-{ns}"[:63] for m in ("member-a", "member-b")]
    reader = operators.client("east")
    try:
        with op.StandIn(east, BINDING, ns, op.karmada_scheduler(reader, KCLUSTER, members)) as s:
            code, record, output = run(scenario, drill, tmp_path)
    finally:
        reader.close()
    assert code == 0, output
    assert record["status"] == "passed", record["reason"]
    moved = [c for c in s.seen if c["patch"] is not None]
    # each binding left member a (failover), then came back (failback): two moves each
    for binding in ("orders-deployment", "orders-service"):
        placed = [
            [c["name"] for c in m["patch"]["spec"]["clusters"]]
            for m in moved
            if m["name"] == binding
        ]
        assert placed == [[members[1]], members], binding
    cluster = operators.admins["east"].get(KCLUSTER, members[0], namespace=None)
    # the drill's taint is gone, the team's own taint is still there
    assert cluster["spec"]["taints"] == [{"key": "team", "value": "db", "effect": "NoSchedule"}]
    timings = {t["name"]: t for t in record["timings"]}
    assert timings["RTO phase: Karmada rescheduling"]["seconds"] > 0


# --------------------------------------------------------------------------- RamenDR


def ramen_objects(admin: KubeClient, ns: str) -> None:
    drpc = {
        "apiVersion": "ramendr.openshift.io/v1alpha1",
        "kind": "DRPlacementControl",
        "metadata": {"name": "orders"},
        "spec": {
            "drPolicyRef": {"name": "dr-policy"},
            "placementRef": {"kind": "Placement", "name": "orders"},
            "pvcSelector": {"matchLabels": {"app": "orders"}},
            "preferredCluster": "primary-cluster",
        },
    }
    admin.create(DRPC, drpc, namespace=ns, strict=False)


def ramen_scenario(ns: str) -> str:
    return (
        header("ramen", ns)
        + f"""\
  failover:
    steps:
      - name: fail over
        uses: ramen.failover
        cluster: east
        with: {{drpc: orders, namespace: {ns}, failoverCluster: standby-cluster, timeout: 30s}}
  failback:
    steps:
      - name: relocate
        uses: ramen.relocate
        cluster: east
        with: {{drpc: orders, namespace: {ns}, preferredCluster: primary-cluster, timeout: 30s}}
  objectives: {{rpo: 1h}}
"""
    )


def test_ramen_objects_pass_a_server_dry_run(operators: Envtest, ns: str, tmp_path: Path) -> None:
    ramen_objects(operators.admins["east"], ns)
    write(operators, tmp_path, ns, ramen_scenario(ns))
    for test_failover in (False, True):
        sc = loader.load_scenario(tmp_path / "scenario.yaml", test_failover=test_failover)
        judged = dry_run_every_object(operators, sc, ns, {})
        assert judged == ["patch DRPlacementControl orders"] * 2


def test_ramen_failover_and_relocate_end_to_end_with_the_sync_time_read_before(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    ramen_objects(operators.admins["east"], ns)
    with op.StandIn(east, DRPC, ns, op.ramen()):
        deployed = wait_until(east, DRPC, "orders", ns, "lastGroupSyncTime")
        scenario, drill, _ = write(operators, tmp_path, ns, ramen_scenario(ns))
        code, record, output = run(scenario, drill, tmp_path)
    assert code == 0, output
    assert record["status"] == "passed", record["reason"]
    drpc = operators.admins["east"].get(DRPC, "orders", namespace=ns)
    assert drpc["status"]["phase"] == "Relocated"
    # the sync time moved on during the failover; the RPO uses the one read before
    before = deployed["status"]["lastGroupSyncTime"]
    assert record["captured"]["ramen-failover.lastGroupSync"] == before
    rpo = record["measurements"]["rpo"]
    fault_start = op.parse(record["timeline"]["faultStart"])
    assert rpo["upperSeconds"] == pytest.approx(
        (fault_start - op.parse(before)).total_seconds() + 0.001, abs=0.002
    )
    assert rpo["status"] == "met"


def test_ramen_test_failover_is_a_dry_run_undone_at_failback(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    ramen_objects(operators.admins["east"], ns)
    with op.StandIn(east, DRPC, ns, op.ramen()):
        wait_until(east, DRPC, "orders", ns, "lastGroupSyncTime")
        scenario, drill, _ = write(operators, tmp_path, ns, ramen_scenario(ns))
        code, record, output = run(scenario, drill, tmp_path, "--test-failover")
    assert code == 0, output
    assert record["faults"] == [] and record["mode"] == "test-failover"
    drpc = operators.admins["east"].get(DRPC, "orders", namespace=ns)
    assert "action" not in drpc["spec"] and "dryRun" not in drpc["spec"]
    assert drpc["status"]["phase"] == "Deployed"  # never failed over
    names = [s["name"] for s in record["steps"]]
    assert "fail over: dry-run the failover" in names
    assert not any(n.startswith("relocate:") and "wait" in n for n in names)


def wait_until(client: KubeClient, r: Resource, name: str, ns: str, field: str) -> dict[str, Any]:
    """The object once its status has `field` (the stand-in's first pass)."""
    for _ in range(200):
        obj = client.get(r, name, namespace=ns)
        if field in (obj.get("status") or {}):
            return obj
        op.pause(0.05)
    raise AssertionError(f"{r.kind} {name} never got status.{field}")


# --------------------------------------------------------------------------- DNS


def dns_objects(admin: KubeClient, ns: str) -> None:
    gslb = {
        "apiVersion": "k8gb.io/v1beta1",
        "kind": "Gslb",
        "metadata": {"name": "orders"},
        "spec": {
            "resourceRef": {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "matchLabels": {"app": "orders"},
            },
            "strategy": {"type": "failover", "primaryGeoTag": "eu-west"},
        },
    }
    admin.create(GSLB, gslb, namespace=ns, strict=False)
    endpoint = {
        "apiVersion": "externaldns.k8s.io/v1alpha1",
        "kind": "DNSEndpoint",
        "metadata": {"name": "orders-api"},
        "spec": {
            "endpoints": [
                {"dnsName": "api.example.com", "recordType": "A", "targets": ["10.10.0.11"]}
            ]
        },
    }
    admin.create(DNSENDPOINT, endpoint, namespace=ns, strict=False)


def dns_scenario(ns: str) -> str:
    return (
        header("dns", ns)
        + f"""\
  failover:
    steps:
      - name: shift orders
        uses: k8gb.shift
        cluster: east
        with: {{gslb: orders, namespace: {ns}, primaryGeoTag: eu-central,
                host: orders.example.com, addresses: [10.20.0.10], timeout: 30s}}
      - name: shift the api
        uses: externaldns.shift
        cluster: east
        with:
          endpoint: orders-api
          namespace: {ns}
          timeout: 30s
          endpoints:
            - {{dnsName: api.example.com, recordType: A, recordTTL: 60, targets: [10.20.0.11]}}
"""
    )


def test_dns_objects_pass_a_server_dry_run(operators: Envtest, ns: str, tmp_path: Path) -> None:
    dns_objects(operators.admins["east"], ns)
    _, _, sc = write(operators, tmp_path, ns, dns_scenario(ns))
    judged = dry_run_every_object(operators, sc, ns, {})
    assert judged == ["patch Gslb orders", "patch DNSEndpoint orders-api"]


def test_dns_shift_end_to_end(
    operators: Envtest, ns: str, tmp_path: Path, east: KubeClient, chaos: None
) -> None:
    dns_objects(operators.admins["east"], ns)
    scenario, drill, _ = write(operators, tmp_path, ns, dns_scenario(ns))
    other = operators.client("east")
    geo = {"eu-west": "10.10.0.10", "eu-central": "10.20.0.10"}
    try:
        with (
            op.StandIn(east, GSLB, ns, op.k8gb(geo, "orders.example.com")),
            op.StandIn(other, DNSENDPOINT, ns, op.externaldns()),
        ):
            code, record, output = run(scenario, drill, tmp_path)
    finally:
        other.close()
    assert code == 0, output
    assert record["status"] == "passed", record["reason"]
    assert record["captured"]["k8gb-shift.primaryBefore"] == "eu-west"
    gslb = operators.admins["east"].get(GSLB, "orders", namespace=ns)
    assert gslb["status"]["healthyRecords"] == {"orders.example.com": ["10.20.0.10"]}
    ep = operators.admins["east"].get(DNSENDPOINT, "orders-api", namespace=ns)
    assert ep["spec"]["endpoints"][0]["targets"] == ["10.20.0.11"]
    assert ep["status"]["observedGeneration"] == ep["metadata"]["generation"]


def test_dns_preflight_refuses_a_missing_gslb_before_any_fault(
    operators: Envtest, ns: str, tmp_path: Path, chaos: None
) -> None:
    scenario, drill, _ = write(operators, tmp_path, ns, dns_scenario(ns))
    code, record, output = run(scenario, drill, tmp_path)
    assert code == 3 and record["status"] == "error" and record["faults"] == [], output
    assert f"Gslb {ns}/orders does not exist on cluster 'east'" in record["reason"]
    assert f"DNSEndpoint {ns}/orders-api does not exist" in record["reason"]
