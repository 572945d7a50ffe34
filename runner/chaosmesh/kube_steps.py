"""Kubernetes failover/failback steps on one cluster: scale, patch, apply, delete,
rollout-restart, wait-for, capture, list-item, job and exec. One call is one attempt; the
engine retries. The steps that read and compare fields live in `object_steps`.

Idempotency: scale, patch (merge/strategic), apply, delete (absent is fine), wait-for,
capture and list-item can be retried safely; a JSON patch may not be; rollout-restart
restarts again; exec is as idempotent as its command (a retry runs it again, possibly in
another pod when a selector picks it). Objects without a namespace use the target's
namespace.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, assert_never

from runner import backends
from runner.chaosmesh import object_steps
from runner.clock import Clock
from runner.errors import KubeError, StepError
from runner.kube.client import KubeClient
from runner.kube.errors import KubeConflictError, KubeForbiddenError, KubeNotFoundError
from runner.kube.exec import POD_EXEC, ExecResult, KubeExecTimeoutError
from runner.kube.resources import CHAOS_GROUP, PODS, Resource, chaos_resource
from runner.scenario import model

_KINDS = {
    "Deployment": Resource("apps", "v1", "deployments", "Deployment"),
    "StatefulSet": Resource("apps", "v1", "statefulsets", "StatefulSet"),
    "DaemonSet": Resource("apps", "v1", "daemonsets", "DaemonSet"),
    "ReplicaSet": Resource("apps", "v1", "replicasets", "ReplicaSet"),
    "Job": Resource("batch", "v1", "jobs", "Job"),
    "CronJob": Resource("batch", "v1", "cronjobs", "CronJob"),
    "Service": Resource("", "v1", "services", "Service"),
    "ConfigMap": Resource("", "v1", "configmaps", "ConfigMap"),
    "Secret": Resource("", "v1", "secrets", "Secret"),
    "Pod": Resource("", "v1", "pods", "Pod"),
}
CLUSTER_SCOPED = frozenset({("cluster.karmada.io", "Cluster")})
"""Kinds of other groups that have no namespace (the recipes' kinds; the rest of the
recipes' kinds are namespaced, with the regular plural)."""
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
EXEC_OUTPUT_LIMIT = 2000
"""Characters of exec output kept in the step result (the end of it)."""
EXEC_TAIL_LINES = 20
"""Lines of output quoted when an exec exits non-zero."""


def resource_for(kind: str, api_version: str | None) -> Resource:
    """The resource of a kind: the built-in table, else `<kind>s` in the given apiVersion."""
    known = _KINDS.get(kind)
    if known is not None and (api_version is None or api_version == known.api_version):
        return known
    if api_version is None:
        raise StepError(f"kind {kind!r} is not built in: give its apiVersion")
    group, _, version = api_version.rpartition("/")
    if group == CHAOS_GROUP:
        return chaos_resource(kind)  # Chaos Mesh plurals: podchaos, networkchaos, schedules
    namespaced = (group, kind) not in CLUSTER_SCOPED
    return Resource(group, version, _plural(kind), kind, namespaced=namespaced)


def served_resource(client: KubeClient, kind: str, api_version: str | None) -> Resource:
    """The resource of a kind as the cluster serves it (discovery: the real plural and
    scope); StepError naming the kind when the cluster does not serve it. Falls back to
    `resource_for` when discovery itself is forbidden."""
    guess = resource_for(kind, api_version)
    try:
        found = client.resource_of(guess.api_version, kind)
    except KubeForbiddenError:
        return guess
    if found is None:
        raise StepError(
            f"kind {kind} ({guess.api_version}) is not served by cluster {client.cluster!r}: "
            "is its CRD installed, and is the apiVersion right?"
        )
    return found


def _plural(kind: str) -> str:
    """The plural as apimachinery guesses it (NetworkPolicy -> networkpolicies), but Gateway
    -> gateways. Kinds with irregular plurals need discovery, which this does not do."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def _verbs(step: model.KubernetesStep) -> tuple[str, ...]:
    """The verbs a Kubernetes step needs on its object, one case per kind (exhaustive); exec:
    on `pods/exec` (the exec websocket is a GET, authorized as `get`; newer API servers also
    require `create`, as `kubectl exec` does)."""
    match step:
        case model.ScaleStep() | model.PatchStep() | model.RolloutRestartStep():
            return ("patch",)
        case model.ApplyStep():
            return ("create", "patch")
        case model.DeleteStep():
            return ("delete",)
        case model.WaitForStep():
            return ("get", "watch")
        case model.JobStep():
            return ("create", "get", "delete")
        case model.CaptureStep():
            return ("get",)
        case model.ListItemStep():
            return ("get", "update")
        case model.ExecStep():
            return ("create", "get")
        case _:
            assert_never(step)


@dataclass(frozen=True, kw_only=True)
class StepObject:
    """The object a Kubernetes step acts on, as the scenario names it."""

    kind: str
    api_version: str | None
    namespace: str
    name: str
    creates: bool
    """An `apply` or `job` step: it makes the object, so it need not exist before."""


def step_object(step: model.Step, namespace: str) -> StepObject | None:
    """What a Kubernetes step acts on (exec: its pod, when named); None for other steps.
    Objects without a namespace are in the target's `namespace`."""
    if isinstance(step, model.ApplyStep | model.JobStep):
        meta = step.manifest.get("metadata") or {}
        return StepObject(
            kind=str(step.manifest.get("kind", "")),
            api_version=step.manifest.get("apiVersion"),
            namespace=str(meta.get("namespace") or namespace),
            name=str(meta.get("name") or ""),
            creates=True,
        )
    if isinstance(step, model.ExecStep):
        pod = step.pod or ""
        return StepObject(
            kind="Pod", api_version="v1", namespace=step.namespace, name=pod, creates=False
        )
    if isinstance(
        step,
        model.ScaleStep
        | model.PatchStep
        | model.DeleteStep
        | model.RolloutRestartStep
        | model.WaitForStep
        | model.ListItemStep,
    ) or (isinstance(step, model.CaptureStep) and step.target is not None):
        ref = step.target
        assert ref is not None
        return StepObject(
            kind=ref.kind,
            api_version=ref.api_version,
            namespace=ref.namespace or namespace,
            name=ref.name,
            creates=False,
        )
    return None


def required_access(
    step: model.Step, namespace: str, resolve: Callable[[str, str | None], Resource] = resource_for
) -> list[tuple[str, Resource, str]]:
    """(verb, resource, namespace) a Kubernetes step needs; empty for other steps. exec also
    needs `list` pods when a selector picks the pod."""
    if not model.is_kubernetes_step(step):
        return []
    if isinstance(step, model.ExecStep):
        ns = step.namespace
        checks = [(verb, POD_EXEC, ns) for verb in _verbs(step)]
        return checks if step.pod else [*checks, ("list", PODS, ns)]
    if isinstance(step, model.CaptureStep) and step.select is not None:
        sel = step.select
        try:
            res = resolve(sel.kind, sel.api_version)
        except StepError:
            return []
        return [("list", res, sel.namespace or namespace)]
    target = step_object(step, namespace)
    if target is None:
        return []
    try:
        res = resolve(target.kind, target.api_version)
    except StepError:
        return []  # reported by preflight's step checks; validation names a missing apiVersion
    return [(verb, res, target.namespace) for verb in _verbs(step)]


class KubernetesSteps:
    """The StepExecutor of a Kubernetes target."""

    def __init__(self, client: KubeClient, *, namespace: str, clock: Clock) -> None:
        self.client = client
        self.namespace = namespace
        self.clock = clock

    def supports(self, action: str) -> bool:
        return action in model.KUBERNETES_ACTIONS

    def execute(self, step: model.Step, run: backends.RunContext) -> backends.StepResult:
        """Any kind but a Kubernetes step is refused before the cluster is called."""
        if not model.is_kubernetes_step(step):
            raise StepError(f"action {step.action!r} is not a Kubernetes step")
        try:
            return self._execute(step, run)
        except KubeError as e:
            raise StepError(str(e)) from None

    def _execute(self, step: model.KubernetesStep, run: backends.RunContext) -> backends.StepResult:
        """One case per Kubernetes step kind, checked exhaustively by mypy."""
        match step:
            case model.ApplyStep():
                return self._apply(step.manifest)
            case model.JobStep():
                return self._job(step, run)
            case model.ExecStep():
                return self._exec(step, run)
            case model.CaptureStep():
                return object_steps.capture(self.client, step, self._resolve, self.namespace)
            case model.ListItemStep():
                res, ns, what = self._object(step.target)
                return object_steps.list_item(self.client, step, res, ns, what)
            case model.WaitForStep():
                res, ns, what = self._object(step.target)
                return object_steps.wait_for(
                    self.client, step, res, ns, what, clock=self.clock, cancel=run.cancel
                )
            case model.ScaleStep():
                res, ns, what = self._object(step.target)
                replicas = {"spec": {"replicas": step.replicas}}
                self.client.patch(res, step.target.name, replicas, namespace=ns)
                return backends.StepResult(output=f"scaled {what} to {step.replicas}")
            case model.PatchStep():
                res, ns, what = self._object(step.target)
                self.client.patch(
                    res, step.target.name, step.patch, namespace=ns, patch_type=step.patch_type
                )
                return backends.StepResult(output=f"patched {what} ({step.patch_type})")
            case model.DeleteStep():
                res, ns, what = self._object(step.target)
                try:
                    self.client.delete(res, step.target.name, namespace=ns)
                except KubeNotFoundError:
                    return backends.StepResult(output=f"{what} was already absent")
                return backends.StepResult(output=f"deleted {what}")
            case model.RolloutRestartStep():
                res, ns, what = self._object(step.target)
                stamp = self.clock.now().isoformat()
                template = {"metadata": {"annotations": {RESTARTED_AT: stamp}}}
                self.client.patch(
                    res, step.target.name, {"spec": {"template": template}}, namespace=ns
                )
                return backends.StepResult(output=f"restarted {what}")
            case _:
                assert_never(step)

    def _object(self, ref: model.ObjectRef) -> tuple[Resource, str | None, str]:
        """The served resource of a step's object, its namespace (None: cluster-scoped) and
        how to name it."""
        res = self._resolve(ref.kind, ref.api_version)
        ns = (ref.namespace or self.namespace) if res.namespaced else None
        return res, ns, (f"{ref.kind} {ns}/{ref.name}" if ns else f"{ref.kind} {ref.name}")

    def _resolve(self, kind: str, api_version: str | None) -> Resource:
        return served_resource(self.client, kind, api_version)

    def _apply(self, manifest: dict[str, Any]) -> backends.StepResult:
        meta = manifest.get("metadata") or {}
        name = str(meta.get("name") or "")
        res = served_resource(
            self.client, str(manifest.get("kind", "")), manifest.get("apiVersion")
        )
        ns = meta.get("namespace") or self.namespace
        try:
            self.client.create(res, manifest, namespace=ns)
            return backends.StepResult(output=f"created {res.kind} {ns}/{name}")
        except KubeConflictError:
            self.client.patch(res, name, manifest, namespace=ns)
            return backends.StepResult(output=f"updated {res.kind} {ns}/{name}")

    # ------------------------------------------------------------------ exec

    def _exec(self, step: model.ExecStep, run: backends.RunContext) -> backends.StepResult:
        """Run the command in the named pod, or the first Running pod the selector matches
        (by name). A non-zero exit fails the step with the code and the output's last lines.
        As idempotent as the command: each attempt runs it again."""
        ns = step.namespace
        pod = step.pod or self._pick_pod(step)
        where = f"pod {ns}/{pod}" + (f" container {step.container}" if step.container else "")
        try:
            result = self.client.exec(
                pod,
                step.command,
                namespace=ns,
                container=step.container,
                timeout=step.timeout.total_seconds(),
                clock=self.clock,
                cancel=run.cancel,
            )
        except KubeExecTimeoutError as e:
            tail = ExecResult(-1, e.stdout, e.stderr).tail(EXEC_TAIL_LINES)
            last = f"; last output:\n{tail}" if tail else ""
            raise StepError(f"{e}{last}") from None
        output = (result.stdout + result.stderr)[-EXEC_OUTPUT_LIMIT:]
        details = {
            "namespace": ns,
            "pod": pod,
            "container": step.container,
            "exitCode": result.exit_code,
            "stdout": result.stdout[-EXEC_OUTPUT_LIMIT:],
            "stderr": result.stderr[-EXEC_OUTPUT_LIMIT:],
            "truncated": result.truncated or len(result.stdout + result.stderr) > len(output),
        }
        if result.exit_code != 0:
            tail = result.tail(EXEC_TAIL_LINES) or "(no output)"
            raise StepError(
                f"{_argv(step.command)} in {where} exited with code "
                f"{result.exit_code}; last output:\n{tail}"
            )
        return backends.StepResult(output=output, details=details)

    def _pick_pod(self, step: model.ExecStep) -> str:
        ns = step.namespace
        if not step.selector:
            raise StepError("exec needs `pod` or a non-empty `selector`")
        selector = ",".join(f"{k}={v}" for k, v in sorted(step.selector.items()))
        items = self.client.list(PODS, namespace=ns, label_selector=selector).get("items") or []
        pods = sorted(items, key=lambda p: str((p.get("metadata") or {}).get("name", "")))
        for p in pods:
            meta = p.get("metadata") or {}
            phase = (p.get("status") or {}).get("phase")
            if phase == "Running" and not meta.get("deletionTimestamp"):
                return str(meta["name"])
        seen = ", ".join(
            f"{(p.get('metadata') or {}).get('name')} "
            f"{(p.get('status') or {}).get('phase') or 'Unknown'}"
            for p in pods[:5]
        )
        raise StepError(
            f"no Running pod matches {selector} in namespace {ns!r}"
            + (f" (found: {seen})" if seen else "")
        )

    # ------------------------------------------------------------------ job

    def _job(self, step: model.JobStep, run: backends.RunContext) -> backends.StepResult:
        """Run a Job to completion. Idempotent across retries: a Job of the same name that
        already succeeded counts; one that failed is deleted and created again."""
        manifest = dict(step.manifest)
        if manifest.get("kind") != "Job":
            raise StepError("the manifest must be a batch/v1 Job")
        meta = dict(manifest.get("metadata") or {})
        name = str(meta.get("name") or "")
        if not name:
            raise StepError("the Job needs metadata.name")
        ns = meta.get("namespace") or self.namespace
        labels = {**(meta.get("labels") or {}), backends.LABEL_RUN_ID: run.run_id}
        manifest["metadata"] = {**meta, "namespace": ns, "labels": labels}
        res = _KINDS["Job"]
        what = f"Job {ns}/{name}"
        current = self.client.get_or_none(res, name, namespace=ns)
        if current is not None and _job_state(current) == "failed":
            self.client.delete(res, name, namespace=ns)
            self._gone(res, name, ns, step)
            current = None
        if current is None:
            self.client.create(res, manifest, namespace=ns)
        timeout = step.timeout.total_seconds()
        deadline = self.clock.monotonic() + timeout
        while True:
            obj = self.client.get(res, name, namespace=ns)
            state = _job_state(obj)
            if state == "succeeded":
                return backends.StepResult(output=f"{what} succeeded")
            if state == "failed":
                raise StepError(f"{what} failed: {_job_reason(obj)}")
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                raise StepError(f"{what} did not finish within {timeout:g}s")
            if self.clock.sleep(min(1.0, remaining), run.cancel):
                raise StepError(f"interrupted while waiting for {what}")

    def _gone(self, res: Resource, name: str, ns: str, step: model.Step) -> None:
        deadline = self.clock.monotonic() + step.timeout.total_seconds()
        while self.client.get_or_none(res, name, namespace=ns) is not None:
            if self.clock.monotonic() >= deadline:
                raise StepError(f"the failed Job {ns}/{name} was not deleted")
            self.clock.sleep(0.5)


def _job_state(job: dict[str, Any]) -> str:
    status = job.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return "succeeded" if cond["type"] == "Complete" else "failed"
    if (status.get("succeeded") or 0) >= 1:
        return "succeeded"
    return "running"


def _job_reason(job: dict[str, Any]) -> str:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Failed":
            return str(cond.get("message") or cond.get("reason") or "failed")
    return "failed"


def _argv(command: list[str]) -> str:
    """The command as one line, shell-quoted for the message."""
    text = shlex.join(command)
    return text if len(text) <= 120 else text[:117] + "..."
