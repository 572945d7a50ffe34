"""Pre-flight of one Kubernetes target: everything a drill needs, listed in one report.

Checks, for the faults and steps of the scenario that land on this cluster:
- RBAC (SelfSubjectAccessReview): create/get/list/watch/patch/delete on each chaos kind
  in the target namespace, `create` on it in every selector namespace (Chaos Mesh's
  `vauth` webhook checks that), get/create/update/delete on Leases, and what each
  Kubernetes step needs;
- the Chaos Mesh CRDs are served (and which controller-gen version generated them);
- the Chaos Mesh controller: its Deployment (`chaosMesh.namespace`/chaos-controller-manager)
  found with an available replica; clearly absent (not found, or none available) is a
  problem unless the target says `chaosMesh.requireController: false`, unreadable a note;
- the namespace allow-list: when the controller runs with ENABLE_FILTER_NAMESPACE,
  every selector namespace needs the annotation `chaos-mesh.org/inject=enabled`;
- every chaos object, sent as a server-side dry run: the API server, the CRD schema and
  the Chaos Mesh webhooks judge it, and the answer must hold every field that was sent
  (servers before 1.25 ignore strict field validation and prune unknown fields silently);
- every step target: its kind is served (discovery) and a named object exists (get),
  unless an `apply` or `job` step of the scenario creates it;
- the scenario's object checks (`spec.preflight`, which recipes add): each named object
  exists and meets its conditions (`object_checks`).
Nothing stops at the first problem: the report lists them all, with notes besides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runner import backends
from runner.chaosmesh.compile import ChaosObject, Stamp, compile_fault
from runner.chaosmesh.kube_steps import required_access, served_resource, step_object
from runner.chaosmesh.object_checks import check_objects
from runner.errors import DrillError, KubeError, StepError
from runner.kube.client import KubeClient
from runner.kube.errors import (
    KubeCrdMissingError,
    KubeForbiddenError,
    KubeNotFoundError,
    KubeWebhookError,
)
from runner.kube.resources import LEASES, NAMESPACES, PODS, Resource, chaos_resource
from runner.scenario import model

CHAOS_VERBS = ("create", "get", "list", "watch", "patch", "delete")
LEASE_VERBS = ("get", "create", "update", "delete")
INJECT_ANNOTATION = "chaos-mesh.org/inject"
CONTROLLER = Resource("apps", "v1", "deployments", "Deployment")
CONTROLLER_NAME = "chaos-controller-manager"


def preflight(
    client: KubeClient,
    *,
    cluster: str,
    namespace: str,
    scenario: model.Scenario,
    peers: Mapping[str, model.Target],
    run: backends.RunContext,
    chaos_mesh: model.ChaosMeshSettings | None = None,
) -> backends.PreflightReport:
    settings = chaos_mesh or model.ChaosMeshSettings()
    missing: list[str] = []
    notes: list[str] = []
    objects = _compiled(scenario, cluster, namespace, peers, run, missing)
    kinds = sorted({o.kind for _, o in objects})
    selector_namespaces = sorted(
        {
            ns
            for _, o in objects
            for ns in (o.manifest["spec"].get("selector") or {}).get("namespaces", [])
        }
    )
    steps = [
        s
        for s in (
            *scenario.steps_of("baseline"),
            *scenario.steps_of("failover"),
            *scenario.steps_of("failback"),
        )
        if s.cluster == cluster
    ]
    try:
        before = len(missing)
        missing += _rbac(client, namespace, kinds, selector_namespaces, steps)
        missing += _crds(client, kinds, namespace, notes)
        if objects:
            deploy = _controller(client, settings, notes, missing)
            missing += _allow_list(client, selector_namespaces, deploy, settings, notes)
        if len(missing) == before:  # a dry run would only repeat a missing right or CRD
            missing += _dry_run(client, objects)
        missing += _step_targets(client, cluster, namespace, steps, notes)
        missing += check_objects(
            client,
            cluster=cluster,
            namespace=namespace,
            checks=scenario.spec.preflight,
            resolve=lambda kind, api_version: served_resource(client, kind, api_version),
        )
    except KubeError as e:
        missing.append(str(e))
    return backends.PreflightReport(cluster=cluster, missing=tuple(missing), notes=tuple(notes))


def _compiled(
    scenario: model.Scenario,
    cluster: str,
    namespace: str,
    peers: Mapping[str, model.Target],
    run: backends.RunContext,
    missing: list[str],
) -> list[tuple[str, ChaosObject]]:
    """The Chaos Mesh objects the run would create in `cluster` (by fault name); a fault
    that does not compile goes to `missing`. A test failover injects none."""
    objects: list[tuple[str, ChaosObject]] = []
    for fault in [] if scenario.test_failover else scenario.spec.faults:
        if fault.cluster != cluster:
            continue
        try:
            compiled = compile_fault(fault, namespace=namespace, peers=peers, stamp=Stamp.of(run))
        except DrillError as e:
            missing.append(str(e))
            continue
        objects += [(fault.name, o) for o in compiled]
    return objects


def _rbac(
    client: KubeClient,
    namespace: str,
    kinds: list[str],
    selector_namespaces: list[str],
    steps: list[model.Step],
) -> list[str]:
    checks = [(v, LEASES, namespace) for v in LEASE_VERBS]
    for kind in kinds:
        res = chaos_resource(kind)
        checks += [(v, res, namespace) for v in CHAOS_VERBS]
        checks += [("create", res, ns) for ns in selector_namespaces if ns != namespace]

    def resolve(kind: str, api_version: str | None) -> Resource:
        return served_resource(client, kind, api_version)

    for step in steps:
        checks += required_access(step, namespace, resolve)
    missing = []
    for verb, res, ns in dict.fromkeys(checks):
        allowed, _ = client.can_i(verb, res, namespace=ns)
        if not allowed:
            where = f"in namespace {ns!r}" if res.namespaced else "(cluster-scoped)"
            missing.append(f"RBAC: {verb} {res.qualified} {where}")
    return missing


def _crds(client: KubeClient, kinds: Iterable[str], namespace: str, notes: list[str]) -> list[str]:
    missing = []
    for kind in kinds:
        res = chaos_resource(kind)
        try:
            crd = client.crd(res.qualified)
        except KubeForbiddenError:
            crd = None
            notes.append(f"cannot read CRD {res.qualified}; checked by listing instead")
            try:
                client.list(res, namespace=namespace, label_selector="drill-runner/preflight")
                continue
            except KubeCrdMissingError:
                pass
            except KubeForbiddenError:  # the RBAC check above already lists the missing verb
                notes.append(f"cannot tell whether CRD {res.qualified} is installed")
                continue
        if crd is None:
            missing.append(f"CRD {res.qualified} is not installed (install Chaos Mesh >= 2.8)")
            continue
        versions = (crd.get("spec") or {}).get("versions") or []
        served = [v.get("name") for v in versions if isinstance(v, dict) and v.get("served")]
        if res.version not in served:
            missing.append(f"CRD {res.qualified} does not serve {res.version} (serves {served})")
        gen = ((crd.get("metadata") or {}).get("annotations") or {}).get(
            "controller-gen.kubebuilder.io/version"
        )
        if gen:
            notes.append(f"CRD {res.qualified} generated by controller-gen {gen}")
    return missing


def _controller(
    client: KubeClient,
    settings: model.ChaosMeshSettings,
    notes: list[str],
    missing: list[str],
) -> dict[str, Any] | None:
    """The controller's Deployment, or None; a clearly absent controller is a problem."""
    where = f"deployment {settings.namespace}/{CONTROLLER_NAME}"
    try:
        deploy = client.get(CONTROLLER, CONTROLLER_NAME, namespace=settings.namespace)
    except (KubeForbiddenError, KubeCrdMissingError):
        notes.append(f"cannot read {where}: whether the Chaos Mesh controller runs is not checked")
        return None
    except KubeNotFoundError:
        _absent(f"{where} not found", settings, notes, missing)
        return None
    status = deploy.get("status") or {}
    available = status.get("availableReplicas") or status.get("readyReplicas") or 0
    if not isinstance(available, int) or available < 1:
        _absent(f"{where} has no available replica", settings, notes, missing)
    return deploy


def _absent(
    why: str, settings: model.ChaosMeshSettings, notes: list[str], missing: list[str]
) -> None:
    text = (
        f"the Chaos Mesh controller is not running ({why}): faults would never be injected "
        "and the run would wait out timeouts.inject"
    )
    if settings.require_controller:
        missing.append(
            f"{text}. If it runs in another namespace set chaosMesh.namespace on the target; "
            "to run anyway set chaosMesh.requireController: false"
        )
    else:
        notes.append(f"{text} (chaosMesh.requireController is false: running anyway)")


def _allow_list(
    client: KubeClient,
    namespaces: list[str],
    deploy: dict[str, Any] | None,
    settings: model.ChaosMeshSettings,
    notes: list[str],
) -> list[str]:
    if deploy is None:
        notes.append(
            f"if Chaos Mesh filters namespaces (ENABLE_FILTER_NAMESPACE), annotate {namespaces} "
            f"with {INJECT_ANNOTATION}=enabled"
        )
        return []
    template = ((deploy.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = template.get("containers") or []
    env = {
        e.get("name"): e.get("value")
        for c in containers
        if isinstance(c, dict)
        for e in c.get("env") or []
        if isinstance(e, dict)
    }
    if str(env.get("ENABLE_FILTER_NAMESPACE", "false")).lower() != "true":
        return []
    missing = []
    for ns in namespaces:
        obj = client.get_or_none(NAMESPACES, ns, namespace=None)
        annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
        if annotations.get(INJECT_ANNOTATION) != "enabled":
            missing.append(
                f"namespace {ns!r} lacks annotation {INJECT_ANNOTATION}=enabled (Chaos Mesh "
                "filters namespaces, so it would select nothing there)"
            )
    return missing


def _dry_run(client: KubeClient, objects: list[tuple[str, ChaosObject]]) -> list[str]:
    """Each object as a server-side dry run; the answer must keep every field sent."""
    missing = []
    for fault, o in objects:
        try:
            client.create_checked(
                chaos_resource(o.kind), o.manifest, namespace=o.namespace, dry_run=True
            )
        except KubeWebhookError as e:
            missing.append(
                f"fault {fault!r}: the Chaos Mesh controller is not answering its admission "
                f"webhook, so nothing can be injected: {e}"
            )
        except KubeError as e:
            causes = getattr(e, "causes", ())
            detail = f" ({'; '.join(causes)})" if causes else ""
            missing.append(f"fault {fault!r}: the server refuses {o.kind} {o.name!r}: {e}{detail}")
    return missing


def _step_targets(
    client: KubeClient,
    cluster: str,
    namespace: str,
    steps: list[model.Step],
    notes: list[str],
) -> list[str]:
    """Every step's kind is served and every object it names exists (or a step makes it)."""
    missing: list[str] = []
    targets = [(step, step_object(step, namespace)) for step in steps]
    made = {(t.kind, t.namespace, t.name) for _, t in targets if t is not None and t.creates}
    for step, target in targets:
        if target is None:
            continue
        try:
            if target.kind == "Pod" and target.api_version in (None, "v1"):
                res = PODS
            else:
                res = served_resource(client, target.kind, target.api_version)
        except StepError as e:
            missing.append(f"step {step.name!r}: {e}")
            continue
        key = (target.kind, target.namespace, target.name)
        if target.creates or not target.name or key in made:
            continue
        ns = target.namespace if res.namespaced else None
        where = f"{target.kind} {ns}/{target.name}" if ns else f"{target.kind} {target.name}"
        try:
            client.get(res, target.name, namespace=ns)
        except KubeNotFoundError:
            missing.append(f"step {step.name!r}: {where} does not exist on cluster {cluster!r}")
        except KubeForbiddenError:
            notes.append(f"step {step.name!r}: cannot check that {where} exists (get forbidden)")
    return missing
