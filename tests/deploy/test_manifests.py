"""The deploy/ manifests, Dockerfile and dashboard: valid, least-privilege, consistent with code."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from runner.chaosmesh.kube_steps import required_access, resource_for
from runner.chaosmesh.preflight import CHAOS_VERBS, LEASE_VERBS
from runner.cli.schedule import group
from runner.kube.resources import CHAOS_KINDS
from runner.scenario import loader, model, recipe_catalog, references
from runner.scheduler.exposition import SchedulerMetrics
from runner.scheduler.lease import LEASE_NAME
from runner.scheduler.triggers import next_fire_times
from tests.deploy.schema import MANIFEST_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SWEEP_KINDS = [k for k in CHAOS_KINDS if k not in ("Schedule", "Workflow")]
CLIENT_VERBS = {
    "create": {"create"},
    "get": {"get"},
    "get_or_none": {"get"},
    "list": {"list"},
    "watch": {"watch"},
    "patch": {"patch"},
    "replace": {"update"},
    "delete": {"delete"},
}


def manifests(name: str | None = None) -> list[dict[str, Any]]:
    files = [DEPLOY / name] if name else sorted(DEPLOY.glob("*.yaml"))
    docs = []
    for f in files:
        if f.name == "kustomization.yaml":
            continue
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d is not None]
    return docs


def one(kind: str, name: str, file: str | None = None) -> dict[str, Any]:
    [doc] = [d for d in manifests(file) if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def client_verbs(module: Path) -> set[str]:
    """RBAC verbs of every `self.client.<method>(...)` call in a module."""
    tree = ast.parse(module.read_text())
    verbs: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "client"
        ):
            verbs |= CLIENT_VERBS.get(node.func.attr, set())
    return verbs


def granted(role: dict[str, Any], group: str, plural: str, name: str | None = None) -> set[str]:
    verbs: set[str] = set()
    for rule in role["rules"]:
        names = rule.get("resourceNames")
        matches = group in rule["apiGroups"] and plural in rule["resources"]
        if matches and (names is None or (name is not None and name in names)):
            verbs |= set(rule["verbs"])
    return verbs


def roles_in(file: str, namespace: str) -> Iterator[dict[str, Any]]:
    for d in manifests(file):
        if d["kind"] == "Role" and d["metadata"]["namespace"] == namespace:
            yield d


# --------------------------------------------------------------------------- shape


@pytest.mark.parametrize("file", sorted(p.name for p in DEPLOY.glob("*.yaml")))
def test_every_manifest_parses_and_matches_the_schema(file: str) -> None:
    docs = list(yaml.safe_load_all((DEPLOY / file).read_text()))
    assert docs and all(isinstance(d, dict) for d in docs)
    if file == "kustomization.yaml":
        [k] = docs
        assert k["kind"] == "Kustomization"
        for resource in k["resources"]:
            assert (DEPLOY / resource).is_file(), resource
        # everything for the home cluster, nothing meant elsewhere
        listed = set(k["resources"])
        home = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
        assert listed == home - {"rbac-target.yaml", "rbac-recipes.yaml", "cronjob.yaml"}
        return
    validator = jsonschema.Draft202012Validator(MANIFEST_SCHEMA)
    for doc in docs:
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_bindings_name_roles_and_service_accounts_that_exist() -> None:
    docs = manifests()
    roles = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in docs}
    for b in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        ref = b["roleRef"]
        namespace = b["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], ref["name"], namespace) in roles, b["metadata"]["name"]
        for s in b["subjects"]:
            assert ("ServiceAccount", s["name"], s["namespace"]) in roles


# --------------------------------------------------------------------------- RBAC


def test_target_role_covers_what_runner_chaosmesh_calls_on_chaos_objects_and_leases() -> None:
    [role] = [r for r in roles_in("rbac-target.yaml", "chaos-drills")]
    chaos_calls = client_verbs(ROOT / "runner/chaosmesh/provider.py") | set(CHAOS_VERBS)
    lease_calls = client_verbs(ROOT / "runner/chaosmesh/lease.py") | set(LEASE_VERBS)
    assert chaos_calls == {"create", "get", "list", "watch", "patch", "delete"}
    for kind in SWEEP_KINDS:
        res = CHAOS_KINDS[kind]
        assert granted(role, res.group, res.plural) == chaos_calls, kind
    assert granted(role, "coordination.k8s.io", "leases") == lease_calls
    # least privilege: nothing beyond those two groups in the drill namespace
    assert {g for r in role["rules"] for g in r["apiGroups"]} == {
        "chaos-mesh.org",
        "coordination.k8s.io",
    }


def test_target_roles_cover_the_example_scenarios_failover_and_failback_steps() -> None:
    step_verbs = {
        "scale": {"patch"},
        "patch": {"patch"},
        "rollout-restart": {"patch"},
        "wait-for": {"get", "watch"},
        "delete": {"delete"},
    }
    needed: dict[tuple[str, str, str], set[str]] = {}
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        scenario = loader.load_scenario(path)
        steps = [*scenario.spec.failover.steps, *scenario.spec.failback.steps]
        for step in steps:
            if step.action not in step_verbs:
                continue
            target = step.target  # type: ignore[union-attr]
            res = resource_for(target.kind, target.api_version)
            key = (target.namespace or "chaos-drills", res.group, res.plural)
            needed.setdefault(key, set()).update(step_verbs[step.action])
    assert needed, "the example scenarios have Kubernetes steps"
    for (namespace, grp, plural), verbs in needed.items():
        have = set().union(
            *(granted(r, grp, plural) for r in roles_in("rbac-target.yaml", namespace))
        )
        assert have == verbs, (namespace, grp, plural)


def test_the_scheduler_role_is_only_its_own_lease() -> None:
    role = one("Role", "drill-runner-scheduler", "rbac.yaml")
    calls = client_verbs(ROOT / "runner/scheduler/lease.py")
    assert calls == {"get", "create", "update"}
    assert granted(role, "coordination.k8s.io", "leases", LEASE_NAME) == calls
    assert granted(role, "coordination.k8s.io", "leases", "someone-elses-lease") == {"create"}
    assert len(role["rules"]) == 2
    deploy = one("Deployment", "drill-runner-scheduler", "deployment.yaml")
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-election=lease" in args
    assert f"--namespace={role['metadata']['namespace']}" in args


# --------------------------------------------------------------------------- workloads


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        spec: dict[str, Any] = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    spec = doc["spec"]["template"]["spec"]
    return spec


def _parse(args: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse container args with the real click commands (unknown options fail)."""
    assert args[0] == "schedule"
    command = group.commands[args[1]]
    ctx = command.make_context(args[1], list(args[2:]), resilient_parsing=False)
    return args[1], ctx.params


@pytest.mark.parametrize(
    ("kind", "name", "file"),
    [
        ("Deployment", "drill-runner-scheduler", "deployment.yaml"),
        ("CronJob", "drill-orders-game-day", "cronjob.yaml"),
    ],
)
def test_workloads_run_hardened_with_valid_arguments_and_no_inline_secrets(
    kind: str, name: str, file: str
) -> None:
    doc = one(kind, name, file)
    pod = _pod(doc)
    assert pod["serviceAccountName"] == "drill-runner"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    [c] = pod["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "limits" in c["resources"] and "requests" in c["resources"]
    for env in c.get("env", []):
        assert "value" not in env or not re.search(r"(?i)token|secret|hooks\.", env["value"])
        if re.search(r"(?i)TOKEN|WEBHOOK|STORE", env["name"]):
            assert "secretKeyRef" in env["valueFrom"], env["name"]
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/etc/drill-runner/drills", "/etc/drill-runner/scenarios", "/tmp"} <= mounts
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in c["volumeMounts"]} == volumes
    command, params = _parse(c["args"])
    assert str(params["drills"]) == "/etc/drill-runner/drills"
    assert str(params["results_dir"]).startswith("/var/lib/drill-runner")
    assert set(params["confirmed"]) == {"primary", "standby"}
    if command == "serve":
        port = params["metrics_port"]
        assert c["ports"][0]["containerPort"] == port
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        # the pod is not killed before aborted drills have cleaned up
        assert pod["terminationGracePeriodSeconds"] > params["shutdown_grace"]
    else:
        assert command == "run-now" and params["here"] is True
        assert doc["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_cronjob_mirrors_its_drills_schedule() -> None:
    cron = one("CronJob", "drill-orders-game-day", "cronjob.yaml")
    drill = loader.load_drill(ROOT / "drills/example.yaml")
    args = _pod(cron)["containers"][0]["args"]
    assert args[2] == drill.name
    schedule = drill.spec.schedule
    assert schedule is not None
    assert cron["spec"]["timeZone"] == schedule.timezone
    assert cron["spec"]["startingDeadlineSeconds"] == schedule.misfire_grace.total_seconds()
    as_cronjob = schedule.model_copy(update={"cron": cron["spec"]["schedule"]})
    start = next_fire_times(schedule, datetime(2026, 1, 1, tzinfo=UTC), 1)[0]
    assert next_fire_times(as_cronjob, start, 5) == next_fire_times(schedule, start, 5)


def test_the_configmaps_are_the_repository_drills_and_they_load(tmp_path: Path) -> None:
    drills = one("ConfigMap", "drill-runner-drills", "configmap-drills.yaml")["data"]
    scenarios = one("ConfigMap", "drill-runner-scenarios", "configmap-drills.yaml")["data"]
    assert drills == {"example.yaml": (ROOT / "drills/example.yaml").read_text()}
    assert scenarios == {p.name: p.read_text() for p in sorted((ROOT / "scenarios").glob("*.yaml"))}
    # the layout of the pod's mounts: drills/ next to scenarios/
    for folder, data in (("drills", drills), ("scenarios", scenarios)):
        (tmp_path / folder).mkdir()
        for key, text in data.items():
            (tmp_path / folder / key).write_text(text)
    drill, loaded = references.check_drill(tmp_path / "drills/example.yaml")
    assert isinstance(drill, model.Drill) and len(loaded) == 3
    assert drill.spec.schedule is not None


# --------------------------------------------------------------------------- image, dashboard


def test_dockerfile_is_pinned_non_root_and_runs_drillctl() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert bases and all(
        re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", b) for b in bases
    ), bases
    assert len(set(bases)) == 1
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert re.search(r'^ENTRYPOINT \["drillctl"\]$', text, re.MULTILINE)
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    _parse(cmd)
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.MULTILINE):
        for src in copied.split():
            assert (ROOT / src).exists(), src
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*" and "!runner/" in ignore  # only what the build copies


def test_the_dashboard_uses_only_metrics_the_scheduler_exports() -> None:
    dash = json.loads((DEPLOY / "grafana/drill-runner.json").read_text())
    exported = {
        s.name for family in SchedulerMetrics().registry.collect() for s in family.samples
    } | {f.name for f in SchedulerMetrics().registry.collect()}
    for family in SchedulerMetrics().registry.collect():
        if family.type == "counter":
            exported.add(f"{family.name}_total")
    used = set()
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= set(re.findall(r"\bdrill_runner_[a-z_]+", target["expr"]))
    assert used and used <= exported, used - exported
    families = {f.name for f in SchedulerMetrics().registry.collect()}
    assert {
        "drill_runner_rto_seconds",
        "drill_runner_rto_objective_seconds",
        "drill_runner_rpo_seconds",
        "drill_runner_rpo_objective_seconds",
    } <= families


PROMOTE = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Scenario
metadata: {name: promote}
spec:
  clusters: [{name: primary}, {name: standby}]
  faults: [{name: f, type: cluster-loss, cluster: primary, duration: 5m}]
  failover:
    steps:
      - {name: promote, uses: cloudnative-pg.promote, cluster: standby,
         with: {cluster: db-standby, namespace: db}}
  objectives: {rto: 5m}
"""


def test_each_recipe_role_grants_exactly_what_its_steps_and_checks_call(tmp_path: Path) -> None:
    """Every shipped recipe, as the example scenarios use it (both modes), needs exactly
    the verbs its ClusterRole in rbac-recipes.yaml grants: nothing missing, nothing more."""
    roles = {r["metadata"]["name"]: r for r in manifests("rbac-recipes.yaml")}
    role_of = {
        name.strip(): role
        for role in roles.values()
        for name in role["metadata"]["annotations"]["drill-runner.dev/recipes"].split(",")
    }
    assert set(role_of) == set(recipe_catalog.builtin().names())
    (tmp_path / "promote.yaml").write_text(PROMOTE)
    needed: dict[str, dict[tuple[str, str], set[str]]] = {}
    scenarios = sorted((ROOT / "scenarios" / "patterns").glob("*.yaml"))
    for path in [*scenarios, tmp_path / "promote.yaml"]:
        for test_failover in (False, True):
            sc = loader.load_scenario(path, test_failover=test_failover)
            recipe_of = {check: a.recipe for a in sc.expansion.recipes for check in a.preflight}
            steps = [*sc.steps_of("baseline"), *sc.steps_of("failover"), *sc.steps_of("failback")]
            for step in steps:
                if step.origin is None:
                    continue
                for verb, res, _ in required_access(step, "ns"):
                    key = (res.group, res.plural)
                    needed.setdefault(step.origin.recipe, {}).setdefault(key, set()).add(verb)
            for check in sc.spec.preflight:
                ref = check.target or check.select
                assert ref is not None
                res = resource_for(ref.kind, ref.api_version)
                verb = "get" if check.target is not None else "list"
                needed.setdefault(recipe_of[check.name], {}).setdefault(
                    (res.group, res.plural), set()
                ).add(verb)
    assert set(needed) == set(role_of)
    for recipe, wanted in needed.items():
        role = role_of[recipe]
        for (grp, plural), verbs in wanted.items():
            assert verbs <= granted(role, grp, plural), (recipe, plural, verbs)
    for role in roles.values():
        recipes = [r for r, x in role_of.items() if x is role]
        for rule in role["rules"]:
            for grp in rule["apiGroups"]:
                for plural in rule["resources"]:
                    used = set().union(*(needed[r].get((grp, plural), set()) for r in recipes))
                    assert used == set(rule["verbs"]), (role["metadata"]["name"], plural)
