"""A Kubernetes cluster as a drill target: Chaos Mesh faults, a Lease lock, pre-flight.

`open_kubernetes_target` is what `runner.engine.targets` calls for `kubernetes:` targets.
A relative kubeconfig path is resolved against the drill file's folder. Kubernetes
steps (scale, patch, apply, delete, rollout-restart, wait-for, job, exec) run through
`runner.chaosmesh.kube_steps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import backends
from runner.chaosmesh.kube_steps import KubernetesSteps
from runner.chaosmesh.lease import LeaseLock
from runner.chaosmesh.preflight import preflight
from runner.chaosmesh.provider import ChaosMeshFaultProvider
from runner.clock import Clock, SystemClock
from runner.errors import ConfigurationError
from runner.kube.client import KubeClient, client_for_target
from runner.scenario import model


class KubernetesBackend:
    """One Kubernetes cluster bound to a logical cluster name (implements TargetBackend)."""

    def __init__(
        self,
        name: str,
        client: KubeClient,
        *,
        namespace: str,
        peers: Mapping[str, model.Target],
        description: str,
        clock: Clock,
        chaos_mesh: model.ChaosMeshSettings | None = None,
    ) -> None:
        self.name = name
        self.chaos_mesh = chaos_mesh or model.ChaosMeshSettings()
        self.description = description
        self.client = client
        self.namespace = namespace
        self.peers = peers
        self.provider = ChaosMeshFaultProvider(
            client, cluster=name, namespace=namespace, peers=peers, clock=clock
        )
        self.leases = LeaseLock(client, target=name, namespace=namespace, clock=clock)
        self.faults: backends.FaultProvider = self.provider
        self.steps: backends.StepExecutor = KubernetesSteps(
            client, namespace=namespace, clock=clock
        )
        self.lock: backends.TargetLock = self.leases

    def preflight(
        self, scenario: model.Scenario, run: backends.RunContext
    ) -> backends.PreflightReport:
        return preflight(
            self.client,
            cluster=self.name,
            namespace=self.namespace,
            scenario=scenario,
            peers=self.peers,
            run=run,
            chaos_mesh=self.chaos_mesh,
        )

    def observed(
        self, *, fault_start: datetime, hold_seconds: float, until: datetime
    ) -> Mapping[str, Any] | None:
        return None

    def observed_failback(
        self, *, timeline: Mapping[str, datetime], hold_seconds: float, until: datetime
    ) -> Mapping[str, Any] | None:
        return None

    def close(self) -> None:
        self.client.close()


def open_kubernetes_target(
    name: str,
    target: model.Target,
    *,
    drill_dir: Path,
    peers: Mapping[str, model.Target],
    clock: Clock | None = None,
) -> KubernetesBackend:
    kube = target.kubernetes
    if kube is None:
        raise ConfigurationError(f"target {name!r} is not a Kubernetes target")
    client = client_for_target(kube, cluster=name)
    source = "in-cluster" if kube.in_cluster else f"context {kube.context or '(current)'}"
    return KubernetesBackend(
        name,
        client,
        namespace=kube.namespace,
        peers=peers,
        description=f"kube {source}, namespace {kube.namespace}",
        clock=clock or SystemClock(),
        chaos_mesh=kube.chaos_mesh,
    )
