"""Fixtures for the safety suites: an emulated cluster over real HTTP with a fake Chaos Mesh
controller and one Deployment (`db/pg`), and `drillctl` run as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.backends import LABEL_MANAGED_BY, MANAGED_BY
from runner.chaosmesh.kube_steps import resource_for
from runner.chaosmesh.lease import LEASE_NAME
from runner.kube.client import KubeClient, client_from_url
from runner.kube.resources import LEASES, chaos_resource
from tests.infra.kube_emulator import KubeEmulatorThread, load_crds
from tests.kube.fake_controller import FakeChaosController
from tests.safety.files import NS

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENTS = resource_for("Deployment", None)


@dataclass
class Cluster:
    emulator: KubeEmulatorThread
    client: KubeClient
    controller: FakeChaosController

    @property
    def url(self) -> str:
        return self.emulator.url

    def chaos_left(self) -> list[str]:
        """Every drill-runner chaos object still on the server, as `Kind/name`."""
        names = []
        for kind in ("PodChaos", "NetworkChaos"):
            items = self.client.list(
                chaos_resource(kind), label_selector=f"{LABEL_MANAGED_BY}={MANAGED_BY}"
            )["items"]
            names += [f"{kind}/{i['metadata']['name']}" for i in items]
        return names

    def lease_holder(self) -> str | None:
        lease = self.client.get_or_none(LEASES, LEASE_NAME, namespace=NS)
        return None if lease is None else str(lease["spec"].get("holderIdentity"))

    def replicas(self) -> int:
        return int(self.client.get(DEPLOYMENTS, "pg", namespace="db")["spec"]["replicas"])


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with KubeEmulatorThread(crds=load_crds(), extra=["apps/v1/deployments"]) as emu:
        client = client_from_url(emu.url, cluster="emu", timeout=5)
        client.create(
            DEPLOYMENTS,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "pg", "namespace": "db"},
                "spec": {"replicas": 1},
            },
            namespace="db",
        )
        with FakeChaosController(client, NS) as controller:
            yield Cluster(emu, client, controller)
        client.close()


def drillctl(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`drillctl ARGS` in a fresh process (stdin not a terminal), as CI would run it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "DRILL_OPERATOR": "ci"}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
