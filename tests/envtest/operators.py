"""Stand-in controllers for the operators the recipes drive, acting through the API only.

envtest runs an API server and nothing else: no Velero, no CloudNativePG, no Argo CD. Each
stand-in here plays one operator's *status transitions* as upstream documents them (a
Restore goes InProgress then Completed with its timestamps; a demoted CloudNativePG
Cluster publishes a demotion token; Flux records the reconcile request it handled; ...),
so a recipe can run end to end against a real API server with the upstream CRDs. This
proves drill-runner's side of the contract (what it writes, what it waits for, what it
measures), not the operator's (docs/testing.md).

A stand-in polls its kind in one namespace and applies `react(obj)`: a `Change` with a
status to write (through the status subresource when the CRD has one, as a controller
must) and/or a merge patch of the object itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner.kube.client import KubeClient
from runner.kube.errors import KubeConflictError, KubeNotFoundError
from runner.kube.resources import Resource
from tests.envtest.status import status_of


@dataclass(frozen=True)
class Change:
    status: dict[str, Any] | None = None
    """Merged into `status` (through /status when `status_subresource`)."""
    patch: dict[str, Any] | None = None
    """A merge patch of the object itself (spec, metadata, Argo CD's `operation`)."""


React = Callable[[dict[str, Any]], Change | None]


@dataclass
class StandIn:
    client: KubeClient
    res: Resource
    namespace: str | None
    react: React
    status_subresource: bool = True
    interval: float = 0.1
    seen: list[dict[str, Any]] = field(default_factory=list)
    """Every change written, in order (for the tests' own assertions)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    def __enter__(self) -> StandIn:
        self._thread = threading.Thread(target=self._loop, daemon=True, name=self.res.kind)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.errors and exc[0] is None:
            raise self.errors[0]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                items = self.client.list(self.res, namespace=self.namespace)["items"]
                for obj in items:
                    change = self.react(obj)
                    if change is not None:
                        self._write(obj, change)
            except (KubeConflictError, KubeNotFoundError):
                continue  # changed or deleted meanwhile: read again
            except Exception as e:  # surfaced by __exit__
                self.errors.append(e)
                return

    def _write(self, obj: dict[str, Any], change: Change) -> None:
        name = obj["metadata"]["name"]
        ns = obj["metadata"].get("namespace")
        if change.patch is not None:
            self.client.patch(self.res, name, change.patch, namespace=ns)
        if change.status is not None:
            body = {"status": change.status}
            if self.status_subresource:
                self.client.patch(status_of(self.res), name, body, namespace=ns)
            else:
                self.client.patch(self.res, name, body, namespace=ns)
        self.seen.append({"name": name, "patch": change.patch, "status": change.status})


def now() -> str:
    """A Kubernetes time (metav1.Time: whole seconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pause(seconds: float) -> None:
    """Wait a little (tests only; the runner itself never sleeps)."""
    threading.Event().wait(seconds)


def parse(text: str) -> datetime:
    """An RFC 3339 time as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def ready(kind: str = "Ready", value: str = "True") -> list[dict[str, str]]:
    return [
        {
            "type": kind,
            "status": value,
            "reason": "StandIn",
            "message": "",
            "lastTransitionTime": now(),
        }
    ]


# --------------------------------------------------------------------------- Velero


def velero_restore(errors: int = 0, warnings: int = 0) -> React:
    """A Restore goes New → InProgress (startTimestamp) → Completed (completionTimestamp),
    or PartiallyFailed when it has item errors (Velero's rule; `completed_with_errors`
    plays a Velero that says Completed anyway)."""

    def react(obj: dict[str, Any]) -> Change | None:
        phase = status(obj).get("phase")
        if phase is None:
            return Change(status={"phase": "InProgress", "startTimestamp": now()})
        if phase == "InProgress":
            done: dict[str, Any] = {"phase": "Completed", "completionTimestamp": now()}
            if errors:
                done["errors"] = errors
            if warnings:
                done["warnings"] = warnings
            return Change(status=done)
        return None

    return react


# --------------------------------------------------------------------------- CloudNativePG


def cnpg() -> React:
    """The distributed topology: a Cluster whose spec.replica.primary names another is a
    replica (a primary that becomes one publishes a demotion token); one that names itself
    is promoted to a new timeline, with a promotion token when it was given one."""

    def react(obj: dict[str, Any]) -> Change | None:
        name = obj["metadata"]["name"]
        spec = (obj.get("spec") or {}).get("replica") or {}
        st = status(obj)
        primary = spec.get("primary")
        timeline = int(st.get("timelineID", 1))
        if primary != name:
            if st.get("currentPrimary") and not st.get("demotionToken"):
                token = f"token-{name}-tl{timeline}"
                return Change(status={"demotionToken": token, "currentPrimary": None})
            return None
        token = spec.get("promotionToken")
        promoted = st.get("currentPrimary") is not None
        if promoted and (token is None or st.get("lastPromotionToken") == token):
            return None
        out: dict[str, Any] = {
            "timelineID": timeline + 1,
            "currentPrimary": f"{name}-1",
            "currentPrimaryTimestamp": now(),
            "phase": "Cluster in healthy state",
            "demotionToken": None,
        }
        if token:
            out["lastPromotionToken"] = token
        return Change(status=out)

    return react


# --------------------------------------------------------------------------- Argo CD, Flux


def argocd() -> React:
    """A sync `operation` is run: operationState Succeeded (with the operation as asked),
    Synced and Healthy, and the `operation` field cleared (Argo CD's controller does)."""

    def react(obj: dict[str, Any]) -> Change | None:
        operation = obj.get("operation")
        if not operation:
            return None
        started = now()
        return Change(
            patch={
                "operation": None,
                "status": {
                    "operationState": {
                        "operation": operation,
                        "phase": "Succeeded",
                        "startedAt": started,
                        "finishedAt": now(),
                        "message": "successfully synced (stand-in)",
                    },
                    "sync": {"status": "Synced", "revision": "abc123"},
                    "health": {"status": "Healthy"},
                },
            }
        )

    return react


REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"


def flux(ready_value: str = "True") -> React:
    """A reconcile request (the annotation) is handled: lastHandledReconcileAt set to it,
    the generation observed, Ready as given."""

    def react(obj: dict[str, Any]) -> Change | None:
        meta = obj["metadata"]
        requested = (meta.get("annotations") or {}).get(REQUESTED_AT)
        st = status(obj)
        if requested is None or st.get("lastHandledReconcileAt") == requested:
            return None
        return Change(
            status={
                "lastHandledReconcileAt": requested,
                "observedGeneration": meta["generation"],
                "conditions": ready(value=ready_value),
            }
        )

    return react


# --------------------------------------------------------------------------- Karmada


def karmada_scheduler(clusters: KubeClient, cluster_res: Resource, members: list[str]) -> React:
    """ResourceBindings: scheduled to every member without a NoExecute taint; rescheduled
    when a taint appears or `rescheduleTriggeredAt` is set; the generation observed."""

    def untainted() -> list[str]:
        out = []
        for m in members:
            taints = (clusters.get(cluster_res, m, namespace=None).get("spec") or {}).get(
                "taints"
            ) or []
            if not any(t.get("effect") == "NoExecute" for t in taints):
                out.append(m)
        return out

    def react(obj: dict[str, Any]) -> Change | None:
        spec = obj.get("spec") or {}
        now_on = [c["name"] for c in spec.get("clusters") or []]
        allowed = untainted()
        kept = [c for c in now_on if c in allowed]
        triggered = spec.get("rescheduleTriggeredAt")
        handled = (obj.get("metadata", {}).get("annotations") or {}).get("stand-in/handled")
        wanted = allowed if triggered and triggered != handled else kept or allowed
        generation = obj["metadata"]["generation"]
        observed = status(obj).get("schedulerObservedGeneration")
        if wanted != now_on:
            return Change(
                patch={
                    "metadata": {"annotations": {"stand-in/handled": triggered}},
                    "spec": {"clusters": [{"name": c, "replicas": 1} for c in wanted]},
                }
            )
        if observed != generation:
            return Change(
                status={"schedulerObservedGeneration": generation, "lastScheduledTime": now()}
            )
        return None

    return react


# --------------------------------------------------------------------------- RamenDR


def ramen() -> React:
    """DRPlacementControl actions: Failover → FailedOver, Relocate → Relocated (progression
    Completed, PeerReady), a dryRun failover only completes its progression."""

    def react(obj: dict[str, Any]) -> Change | None:
        spec = obj.get("spec") or {}
        st = status(obj)
        generation = obj["metadata"]["generation"]
        if st.get("observedGeneration") == generation:
            return None
        action = spec.get("action")
        phase = {"Failover": "FailedOver", "Relocate": "Relocated"}.get(action or "", "Deployed")
        if spec.get("dryRun"):
            phase = str(st.get("phase", "Deployed"))
        return Change(
            status={
                "phase": phase,
                "progression": "Completed",
                "observedGeneration": generation,
                "actionStartTime": now(),
                "conditions": ready("PeerReady"),
                # Ramen's own sync time moves on during a failover: the recipe must not
                # read it after the fault (this is what it would see)
                "lastGroupSyncTime": now(),
            }
        )

    return react


# --------------------------------------------------------------------------- DNS


def k8gb(addresses: dict[str, str], host: str) -> React:
    """A failover Gslb serves the address of its primary geo tag."""

    def react(obj: dict[str, Any]) -> Change | None:
        geo = ((obj.get("spec") or {}).get("strategy") or {}).get("primaryGeoTag")
        want = {host: [addresses[geo]]} if geo in addresses else {}
        if status(obj).get("healthyRecords") == want:
            return None
        return Change(status={"healthyRecords": want, "geoTag": geo or "", "serviceHealth": {}})

    return react


def externaldns() -> React:
    """ExternalDNS records the generation of a DNSEndpoint it has processed."""

    def react(obj: dict[str, Any]) -> Change | None:
        generation = obj["metadata"]["generation"]
        if status(obj).get("observedGeneration") == generation:
            return None
        return Change(status={"observedGeneration": generation})

    return react
