"""`ChaosMeshFaultProvider`: create Chaos Mesh objects, confirm injection, remove them.

Inject: create with fieldValidation=Strict and check the answer kept every field sent
(servers before 1.25 ignore Strict and prune; a dropped field is removed at once and
fails the fault; preflight's dry run normally refuses it first), report each object
through `on_created`
(so the engine can always remove it), then WATCH the object until Selected and
AllInjected are True. Selected=False fails fast naming the selector; each fault has
a deadline. Remove: delete and wait until the object is gone; a finalizer that never
clears becomes a `FaultError` naming the objects and `drillctl cleanup --force`.
Sweep finds objects by drill-runner labels; `force` clears finalizers with a merge
patch on metadata only (the way out when the Chaos Mesh controller is gone).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from runner import backends
from runner.chaosmesh import status
from runner.chaosmesh.compile import ChaosObject, Stamp, compile_fault
from runner.clock import Clock, SystemClock
from runner.errors import AbortRequested, FaultError, KubeError
from runner.kube.client import KubeClient
from runner.kube.errors import KubeCrdMissingError, KubeDroppedFieldsError, KubeNotFoundError
from runner.kube.lease import parse_kube_time
from runner.kube.resources import CHAOS_KINDS, chaos_resource
from runner.scenario import model

log = logging.getLogger(__name__)

WATCH_SLICE = 2.0
"""Default longest single watch: the object is re-read and cancel checked at least this often."""
SWEEP_KINDS = tuple(k for k in CHAOS_KINDS if k not in ("Schedule", "Workflow"))


class ChaosMeshFaultProvider:
    """Faults in one Kubernetes cluster through Chaos Mesh (implements FaultProvider)."""

    def __init__(
        self,
        client: KubeClient,
        *,
        cluster: str,
        namespace: str,
        peers: Mapping[str, model.Target],
        clock: Clock | None = None,
        remove_timeout: float = 120.0,
        not_selected_grace: float = 10.0,
        force_grace: float = 5.0,
        watch_slice: float = WATCH_SLICE,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.namespace = namespace
        self.peers = peers
        self.clock: Clock = clock or SystemClock()
        self.remove_timeout = remove_timeout
        self.not_selected_grace = not_selected_grace
        """Selected=False may be transient right after creation; longer than this fails."""
        self.force_grace = force_grace
        self.watch_slice = watch_slice

    # ------------------------------------------------------------------ plan / inject

    def compile(self, fault: model.Fault, run: backends.RunContext) -> list[ChaosObject]:
        return compile_fault(fault, namespace=self.namespace, peers=self.peers, stamp=Stamp.of(run))

    def plan(self, fault: model.Fault, run: backends.RunContext) -> list[backends.PlannedObject]:
        return [
            backends.PlannedObject(
                cluster=self.cluster,
                fault=fault.name,
                kind=o.kind,
                name=o.name,
                namespace=o.namespace,
                manifest=o.manifest,
            )
            for o in self.compile(fault, run)
        ]

    def _handle(self, fault: str, obj: ChaosObject, at: datetime | None) -> backends.InjectedFault:
        return backends.InjectedFault(
            cluster=self.cluster,
            fault=fault,
            kind=obj.kind,
            name=obj.name,
            namespace=obj.namespace,
            injected_at=at,
            one_shot=obj.one_shot,
        )

    def inject(
        self,
        fault: model.Fault,
        run: backends.RunContext,
        on_created: Callable[[backends.InjectedFault], None],
    ) -> list[backends.InjectedFault]:
        objects = self.compile(fault, run)
        for obj in objects:
            try:
                self.client.create_checked(
                    chaos_resource(obj.kind), obj.manifest, namespace=obj.namespace
                )
            except KubeDroppedFieldsError as e:
                # it exists, with fields missing: have it removed at once, never waited on
                on_created(self._handle(fault.name, obj, None))
                raise FaultError(f"fault {fault.name!r}: {e}; removing it") from None
            run.log("fault.created", {"cluster": self.cluster, "kind": obj.kind, "name": obj.name})
            on_created(self._handle(fault.name, obj, None))
        deadline = self.clock.monotonic() + run.inject_timeout_seconds
        confirmed = []
        for obj in objects:
            self._wait_injected(fault.name, obj, run.cancel, deadline, run.inject_timeout_seconds)
            confirmed.append(self._handle(fault.name, obj, self.clock.now()))
            run.log("fault.injected", {"cluster": self.cluster, "kind": obj.kind, "name": obj.name})
        return confirmed

    def _wait_injected(
        self,
        fault: str,
        obj: ChaosObject,
        cancel: threading.Event,
        deadline: float,
        timeout: float,
    ) -> None:
        res = chaos_resource(obj.kind)
        what = f"fault {fault!r} on cluster {self.cluster!r}: {obj.kind} {obj.name!r}"
        not_selected_since: float | None = None
        slices = math.ceil(max(0.0, deadline - self.clock.monotonic()) / self.watch_slice) + 1
        current = self.client.get(res, obj.name, namespace=obj.namespace)
        for _ in range(slices + 1):
            for event_obj in self._states(res, obj, current, deadline, cancel):
                current = event_obj
                state = status.injection(current)
                if state.phase is status.Phase.INJECTED:
                    return
                if state.phase is status.Phase.NOT_SELECTED:
                    now = self.clock.monotonic()
                    not_selected_since = now if not_selected_since is None else not_selected_since
                    if now - not_selected_since >= self.not_selected_grace:
                        raise FaultError(
                            f"{what} selected no targets ("
                            f"{status.describe_selector(obj.manifest.get('spec', {}))}); check "
                            "the namespaces and labels, and the chaos-mesh.org/inject=enabled "
                            "namespace annotation if Chaos Mesh filters namespaces"
                        )
                else:
                    not_selected_since = None
            if cancel.is_set():
                raise AbortRequested(f"cancelled while waiting for {what} to be injected")
            if self.clock.monotonic() >= deadline:
                break
            current = self.client.get(res, obj.name, namespace=obj.namespace)
        failures = status.record_failures(current)
        detail = f"; last failures: {'; '.join(failures)}" if failures else ""
        raise FaultError(
            f"{what} was not confirmed injected within {timeout:g}s "
            f"(conditions: {status.conditions(current) or 'none'}){detail}"
        )

    def _states(
        self,
        res: Any,
        obj: ChaosObject,
        current: dict[str, Any],
        deadline: float,
        cancel: threading.Event,
    ) -> Iterable[dict[str, Any]]:
        """The current state, then every change seen by one watch slice."""
        yield current
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0 or cancel.is_set():
            return
        rv = (current.get("metadata") or {}).get("resourceVersion")
        for kind, changed in self.client.watch(
            res,
            namespace=obj.namespace,
            name=obj.name,
            resource_version=rv,
            timeout=min(self.watch_slice, remaining),
        ):
            if kind == "DELETED":
                raise FaultError(
                    f"fault on cluster {self.cluster!r}: {obj.kind} {obj.name!r} was deleted "
                    "while waiting for injection"
                )
            yield changed
            if cancel.is_set():
                return

    # ------------------------------------------------------------------ remove

    def remove(self, fault: backends.InjectedFault, run: backends.RunContext) -> None:
        self._delete_and_wait(
            fault.kind, fault.name, fault.namespace, force=False, timeout=run.remove_timeout_seconds
        )
        run.log("fault.removed", {"cluster": self.cluster, "kind": fault.kind, "name": fault.name})

    def _delete_and_wait(
        self,
        kind: str,
        name: str,
        namespace: str | None,
        *,
        force: bool,
        timeout: float | None = None,
    ) -> None:
        """Delete and wait until gone; `timeout` defaults to the provider's remove timeout."""
        remove_timeout = self.remove_timeout if timeout is None else timeout
        res = chaos_resource(kind)
        before = self.client.get_or_none(res, name, namespace=namespace)
        if before is None:
            return
        try:
            self.client.delete(res, name, namespace=namespace)
        except KubeNotFoundError:
            return
        wait = min(self.force_grace, remove_timeout) if force else remove_timeout
        if force and status.is_terminating(before):
            wait = 0.0  # already stuck before this cleanup: the controller had its chance
        current = self._wait_gone(res, name, namespace, wait)
        if current is None:
            return
        finalizers = (current.get("metadata") or {}).get("finalizers") or []
        if force:
            log.warning(
                "clearing finalizers %s of %s %s/%s on %s",
                finalizers,
                kind,
                namespace,
                name,
                self.cluster,
            )
            try:
                clear = {"metadata": {"finalizers": None}}
                self.client.patch(res, name, clear, namespace=namespace)
            except KubeNotFoundError:
                return
            except KubeError as e:
                raise FaultError(
                    f"cluster {self.cluster!r}: cannot clear the finalizers of {kind} "
                    f"{namespace}/{name}: {e}. If the Chaos Mesh controller is gone, someone with "
                    "cluster-admin must delete its webhook configurations first"
                ) from None
            if self._wait_gone(res, name, namespace, remove_timeout) is None:
                return
        failures = status.record_failures(current)
        detail = f"; record failures: {'; '.join(failures)}" if failures else ""
        raise FaultError(
            f"cluster {self.cluster!r}: {kind} {namespace}/{name} is still terminating "
            f"(finalizers {finalizers}){detail}. Chaos Mesh could not recover its targets; "
            f"inspect it, then run `drillctl cleanup --force` (clears finalizers; the fault may "
            "stay in the pods, so restart them)"
        )

    def _wait_gone(
        self, res: Any, name: str, namespace: str | None, timeout: float
    ) -> dict[str, Any] | None:
        """None once the object is gone, else its last state after `timeout`."""
        deadline = self.clock.monotonic() + timeout
        for _ in range(math.ceil(timeout / self.watch_slice) + 2):
            current = self.client.get_or_none(res, name, namespace=namespace)
            if current is None:
                return None
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return current
            rv = (current.get("metadata") or {}).get("resourceVersion")
            for kind, _obj in self.client.watch(
                res,
                namespace=namespace,
                name=name,
                resource_version=rv,
                timeout=min(self.watch_slice, remaining),
            ):
                if kind == "DELETED":
                    return None
        return self.client.get_or_none(res, name, namespace=namespace)

    # ------------------------------------------------------------------ sweep

    def sweep(
        self, *, run_id: str | None, older_than_seconds: float | None
    ) -> list[backends.Leftover]:
        selector = f"{backends.LABEL_MANAGED_BY}={backends.MANAGED_BY}"
        if run_id:
            selector += f",{backends.LABEL_RUN_ID}={run_id}"
        now = self.clock.now()
        found = []
        for kind in SWEEP_KINDS:
            try:
                listed = self.client.list(
                    chaos_resource(kind), namespace=self.namespace, label_selector=selector
                )
            except KubeCrdMissingError:
                continue
            for item in listed.get("items", []):
                meta = item.get("metadata") or {}
                created = parse_kube_time(meta.get("creationTimestamp"))
                if (
                    older_than_seconds is not None
                    and created is not None
                    and (now - created).total_seconds() < older_than_seconds
                ):
                    continue
                found.append(
                    backends.Leftover(
                        cluster=self.cluster,
                        kind=item.get("kind") or kind,
                        name=meta.get("name", ""),
                        namespace=meta.get("namespace") or self.namespace,
                        run_id=(meta.get("labels") or {}).get(backends.LABEL_RUN_ID),
                        created_at=created,
                    )
                )
        return found

    def remove_leftover(
        self, leftover: backends.Leftover, *, force: bool, timeout: float | None = None
    ) -> None:
        self._delete_and_wait(
            leftover.kind, leftover.name, leftover.namespace, force=force, timeout=timeout
        )
