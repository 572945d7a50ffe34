"""A tiny stand-in for the Chaos Mesh controller-manager, acting through the API only.

It watches chaos objects and writes what the real controllers write: the
`chaos-mesh/records` finalizer, `status.conditions` and `containerRecords`, and
releases the finalizer on delete. Per-object behaviour comes from the fault label
(`drill-runner/fault`) looked up in `behaviour` (default: inject).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Literal

from runner.backends import LABEL_FAULT
from runner.errors import KubeError
from runner.kube.client import KubeClient
from runner.kube.errors import KubeConflictError, KubeCrdMissingError, KubeNotFoundError
from runner.kube.resources import chaos_resource

Behaviour = Literal["inject", "never-select", "stuck-finalizer", "ignore"]
FINALIZER = "chaos-mesh/records"


def _conditions(selected: bool, injected: bool) -> list[dict[str, str]]:
    def c(t: str, v: bool) -> dict[str, str]:
        return {"type": t, "status": "True" if v else "False", "reason": ""}

    return [
        c("Selected", selected),
        c("AllInjected", injected),
        c("AllRecovered", not injected),
        c("Paused", False),
    ]


class FakeChaosController:
    def __init__(
        self,
        client: KubeClient,
        namespace: str | None,
        kinds: tuple[str, ...] = ("NetworkChaos", "PodChaos"),
        watch_timeout: float = 0.5,
        publish: bool = True,
    ) -> None:
        self.publish = publish
        """Make the controller look installed: its Deployment, with an available replica."""
        self.watch_timeout = watch_timeout
        self.client = client
        self.namespace = namespace
        self.kinds = kinds
        self.behaviour: dict[str, Behaviour] = {}
        self.default: Behaviour = "inject"
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(k,), daemon=True) for k in kinds]

    def __enter__(self) -> FakeChaosController:
        if self.publish:
            publish_deployment(self.client)
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)

    def _loop(self, kind: str) -> None:
        res = chaos_resource(kind)
        while not self._stop.is_set():
            try:
                for _type, obj in self.client.watch(
                    res, namespace=self.namespace, timeout=self.watch_timeout
                ):
                    if self._stop.is_set():
                        return
                    if _type != "DELETED":
                        self._reconcile(kind, obj)
            except Exception as e:  # the emulator is shutting down
                import os

                if os.environ.get("FAKE_CTL_DEBUG"):
                    print("ctl error", repr(e))
                if self._stop.wait(0.05):
                    return

    def _reconcile(self, kind: str, obj: dict) -> None:
        res = chaos_resource(kind)
        meta = obj["metadata"]
        name = meta["name"]
        ns = meta.get("namespace") or self.namespace
        how = self.behaviour.get(meta.get("labels", {}).get(LABEL_FAULT, ""), self.default)
        if how == "ignore":
            return
        conds = {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}
        try:
            if meta.get("deletionTimestamp"):
                if how != "stuck-finalizer" and meta.get("finalizers"):
                    self.client.patch(res, name, {"metadata": {"finalizers": None}}, namespace=ns)
                elif how == "stuck-finalizer" and conds.get("AllRecovered") != "Unknown":
                    failed = {
                        "id": "db/pod-0",
                        "selectorKey": ".",
                        "phase": "Injected",
                        "injectedCount": 1,
                        "recoveredCount": 0,
                        "events": [
                            {
                                "type": "Failed",
                                "operation": "Recover",
                                "message": "rpc error: chaos-daemon not found",
                                "timestamp": "2026-01-01T00:00:01Z",
                            }
                        ],
                    }
                    conditions = _conditions(True, True)
                    conditions[2]["status"] = "Unknown"
                    self.client.patch(
                        res,
                        name,
                        {
                            "status": {
                                "conditions": conditions,
                                "experiment": {
                                    "desiredPhase": "Stop",
                                    "containerRecords": [failed],
                                },
                            }
                        },
                        namespace=ns,
                    )
                return
            if how == "never-select":
                if conds.get("Selected") != "False":
                    self.client.patch(
                        res,
                        name,
                        {
                            "status": {
                                "conditions": _conditions(False, False),
                                "experiment": {"desiredPhase": "Run"},
                            }
                        },
                        namespace=ns,
                    )
                return
            if conds.get("AllInjected") != "True":
                target = obj["spec"].get("selector", {}).get("namespaces", ["db"])[0]
                record = {
                    "id": f"{target}/pod-0",
                    "selectorKey": ".",
                    "phase": "Injected",
                    "injectedCount": 1,
                    "recoveredCount": 0,
                    "events": [
                        {
                            "type": "Succeeded",
                            "operation": "Apply",
                            "timestamp": "2026-01-01T00:00:00Z",
                        }
                    ],
                }
                self.client.patch(
                    res,
                    name,
                    {
                        "metadata": {"finalizers": [FINALIZER]},
                        "status": {
                            "conditions": _conditions(True, True),
                            "experiment": {"desiredPhase": "Run", "containerRecords": [record]},
                        },
                    },
                    namespace=ns,
                )
        except KubeNotFoundError:
            pass


def publish_deployment(client: KubeClient, namespace: str = "chaos-mesh") -> None:
    """`chaos-mesh/chaos-controller-manager` with one available replica, as preflight looks
    for it; the status goes through `/status` too, as a real API server requires. Nothing
    happens on a server that does not serve Deployments (preflight then only notes it)."""
    from runner.chaosmesh.preflight import CONTROLLER, CONTROLLER_NAME
    from runner.kube.resources import NAMESPACES
    from tests.envtest.status import status_of

    status = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": CONTROLLER_NAME, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": CONTROLLER_NAME}},
            "template": {
                "metadata": {"labels": {"app": CONTROLLER_NAME}},
                "spec": {"containers": [{"name": "manager", "image": "chaos-mesh:test"}]},
            },
        },
        "status": status,
    }
    try:
        with contextlib.suppress(KubeError):
            client.create(
                NAMESPACES, {"metadata": {"name": namespace}}, namespace=None, strict=False
            )
        client.create(CONTROLLER, deploy, namespace=namespace, strict=False)
    except KubeCrdMissingError:
        return
    except KubeConflictError:
        pass
    with contextlib.suppress(KubeError):  # envtest keeps status only through /status
        current = client.get(CONTROLLER, CONTROLLER_NAME, namespace=namespace)
        client.replace(
            status_of(CONTROLLER),
            CONTROLLER_NAME,
            {**current, "status": status},
            namespace=namespace,
        )
