"""Fixtures: two real API servers ("east", "west") for the whole session, one kubeconfig.

Both control planes start once per session, in parallel, with the Chaos Mesh CRDs
installed and Established. Every test gets fresh namespaces (deleted namespaces never
go away on envtest). Without KUBEBUILDER_ASSETS every test here is skipped, saying why.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.kube.client import KubeClient
from runner.kube.resources import NAMESPACES, Resource
from tests.envtest.controlplane import (
    RESTRICTED_USER,
    ControlPlane,
    assets_problem,
    client,
    load_crd_documents,
    write_kubeconfig,
)
from tests.kube.fake_controller import FakeChaosController

CLUSTERS = ("east", "west")
ROLES = Resource("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLE_BINDINGS = Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")


@dataclass
class Envtest:
    """The running control planes of the session and how to reach them."""

    planes: dict[str, ControlPlane]
    kubeconfig: Path
    crds: list[dict[str, Any]]
    admins: dict[str, KubeClient] = field(default_factory=dict)

    def client(self, cluster: str, user: str = "admin", timeout: float = 30.0) -> KubeClient:
        """A new client for `cluster` as `user` (admin or the restricted user); close it."""
        return client(self.kubeconfig, f"{cluster}-{user}", cluster=cluster, timeout=timeout)

    def grant(self, cluster: str, namespace: str, name: str, rules: list[dict[str, Any]]) -> None:
        """A Role with `rules` in `namespace`, bound to the restricted user."""
        admin = self.admins[cluster]
        role = {"metadata": {"name": name}, "rules": rules}
        admin.create(ROLES, role, namespace=namespace, strict=False)
        binding = {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": ROLES.group, "kind": "Role", "name": name},
            "subjects": [{"apiGroup": ROLES.group, "kind": "User", "name": RESTRICTED_USER}],
        }
        admin.create(ROLE_BINDINGS, binding, namespace=namespace, strict=False)


@pytest.fixture(scope="session")
def envtest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Envtest]:
    problem = assets_problem()
    if problem:
        pytest.skip(f"envtest: {problem}")
    root = tmp_path_factory.mktemp("envtest")
    crds = load_crd_documents()
    planes = {name: ControlPlane(name, root / name) for name in CLUSTERS}
    errors: list[BaseException] = []
    try:
        # The bootstrap kubeconfig needs the port, known only once the server listens:
        # write it from inside each thread just before installing the CRDs.
        threads = []
        for cp in planes.values():

            def run(cp: ControlPlane = cp) -> None:
                def started() -> None:
                    write_kubeconfig(cp.dir / "bootstrap.kubeconfig", [cp])

                _start_with(cp, crds, errors, started)

            threads.append(threading.Thread(target=run, name=f"envtest-{cp.name}"))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        env = Envtest(
            planes=planes,
            kubeconfig=write_kubeconfig(root / "kubeconfig", list(planes.values())),
            crds=crds,
        )
        env.admins = {name: env.client(name) for name in CLUSTERS}
        yield env
        for c in env.admins.values():
            c.close()
    finally:
        for cp in planes.values():
            cp.stop()


def _start_with(
    cp: ControlPlane,
    crds: list[dict[str, Any]],
    errors: list[BaseException],
    started: Callable[[], None],
) -> None:
    try:
        cp.start()
        started()
        # generous: installing 23 CRDs on a machine under load can take a while per request
        admin = client(
            cp.dir / "bootstrap.kubeconfig", f"{cp.name}-admin", cluster=cp.name, timeout=60
        )
        try:
            cp.install_crds(admin, crds)
        finally:
            admin.close()
    except BaseException as e:  # re-raised by the fixture once both threads end
        errors.append(e)


_ids = itertools.count(1)


@pytest.fixture
def ns(envtest: Envtest, request: pytest.FixtureRequest) -> str:
    """A fresh namespace, created on both clusters (never reused: deletion never finishes)."""
    base = request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")
    name = f"{base[:50].rstrip('-')}-{next(_ids)}"
    for admin in envtest.admins.values():
        admin.create(NAMESPACES, {"metadata": {"name": name}}, namespace=None, strict=False)
    return name


@pytest.fixture
def controllers(envtest: Envtest, ns: str) -> Iterator[dict[str, FakeChaosController]]:
    """The fake Chaos Mesh controller on each cluster, for `ns`, writing status via the API."""
    clients = {name: envtest.client(name) for name in CLUSTERS}
    ctls = {
        name: FakeChaosController(c, ns, kinds=("NetworkChaos", "PodChaos"), watch_timeout=1.0)
        for name, c in clients.items()
    }
    for ctl in ctls.values():
        ctl.__enter__()
    try:
        yield ctls
    finally:
        for ctl in ctls.values():
            ctl.__exit__(None, None, None)
        for c in clients.values():
            c.close()
