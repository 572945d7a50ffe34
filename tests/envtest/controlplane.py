"""A real etcd + kube-apiserver (envtest "assets", Kubernetes v1.20.2) for tests.

`ControlPlane` starts one etcd and one kube-apiserver from `KUBEBUILDER_ASSETS` on free
127.0.0.1 ports with a temporary data folder: HTTPS with the apiserver's self-signed
certificate, RBAC on, static token users `admin` (system:masters) and `alice` (no
groups: only what a test grants her). It installs the upstream Chaos Mesh CRDs through
the apiextensions API and waits until they are Established. `write_kubeconfig` writes
one kubeconfig with contexts `<cluster>-admin` and `<cluster>-alice` for several
control planes, so a drill file can bind two targets to two API servers.

Build the assets with scripts/envtest-assets.sh (see docs/testing.md).
Limits of 1.20 that tests must respect: `fieldValidation=Strict` is ignored (unknown
fields are pruned), there is no kubelet or controller, deleted namespaces stay
Terminating (so every test uses fresh namespaces).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from runner.kube.client import KubeClient, client_for_target
from runner.kube.resources import CRDS
from runner.scenario import model
from tests.infra.upstream import CRDS as UPSTREAM_CRDS

BINARIES = ("etcd", "kube-apiserver")
DEFAULT_CRD_DIR = UPSTREAM_CRDS
RESTRICTED_USER = "alice"
START_TIMEOUT = 180.0
"""Seconds for etcd + kube-apiserver to answer /readyz: about 15 s on an idle machine, over
60 s at a load average of 25 on two cores (seen: the apiserver still starting at 50 s).
A process that exits is noticed at once; only a slow start waits this long."""


def assets_problem() -> str | None:
    """Why the envtest tests cannot run here (None when they can)."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        return (
            "KUBEBUILDER_ASSETS is not set; build the assets with scripts/envtest-assets.sh "
            "(as root) and export KUBEBUILDER_ASSETS, or run scripts/test.sh, which does both"
        )
    missing = [b for b in BINARIES if not os.access(Path(assets) / b, os.X_OK)]
    if missing:
        return f"KUBEBUILDER_ASSETS={assets} lacks {', '.join(missing)}"
    if shutil.which("openssl") is None:
        return "openssl is needed to make the service-account signing key"
    if not crd_dir().is_dir():
        return f"no Chaos Mesh CRDs in {crd_dir()} (set DRILL_CHAOS_MESH_CRDS)"
    return None


def crd_dir() -> Path:
    return Path(os.environ.get("DRILL_CHAOS_MESH_CRDS") or DEFAULT_CRD_DIR)


def load_crd_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(crd_dir().glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]


class ControlPlane:
    """One etcd + kube-apiserver; `start()` then `stop()` (idempotent)."""

    def __init__(self, name: str, data_dir: Path) -> None:
        self.name = name
        self.dir = data_dir
        self.assets = Path(os.environ["KUBEBUILDER_ASSETS"])
        self.admin_token = secrets.token_hex(20)
        self.user_token = secrets.token_hex(20)
        self.port = 0
        self._procs: list[_Proc] = []

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "certs" / "apiserver.crt"

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for proc in self._procs:
            path = self.dir / f"{proc.name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            out.append(
                f"--- {self.name} {proc.name} (exit {proc.popen.poll()})\n" + "\n".join(text)
            )
        return "\n".join(out)

    # ------------------------------------------------------------------ processes

    def _spawn(self, name: str, cmd: Sequence[str]) -> None:
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop())
        popen = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT)
        self._procs.append(_Proc(name, popen, log))

    def start(self, attempts: int = 3) -> None:
        """Start etcd and kube-apiserver, wait for /readyz; retry on a port race."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tokens = (
            f'{self.admin_token},admin,admin,"system:masters"\n'
            f"{self.user_token},{RESTRICTED_USER},{RESTRICTED_USER}\n"
        )
        (self.dir / "tokens.csv").write_text(tokens)
        subprocess.run(
            ["openssl", "genrsa", "-out", str(self.dir / "sa.key"), "2048"],
            check=True,
            capture_output=True,
        )
        for attempt in range(attempts):
            try:
                self._start_once()
                return
            except RuntimeError:
                tail = self.log_tail()
                self.stop()
                if attempt == attempts - 1 or "address already in use" not in tail:
                    raise RuntimeError(
                        f"{self.name}: control plane did not start\n{tail}"
                    ) from None
                shutil.rmtree(self.dir / "etcd", ignore_errors=True)

    def _start_once(self) -> None:
        etcd_port, peer_port, self.port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn(
            "etcd",
            [
                str(self.assets / "etcd"),
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            ],
        )
        key = self.dir / "sa.key"
        self._spawn(
            "apiserver",
            [
                str(self.assets / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={self.dir / 'certs'}",
                f"--token-auth-file={self.dir / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={key}",
                f"--service-account-signing-key-file={key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--endpoint-reconciler-type=none",
                "--disable-admission-plugins=ServiceAccount",
            ],
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._ready():
                return
            if any(p.popen.poll() is not None for p in self._procs):
                raise RuntimeError("a control-plane process exited")
            if time.monotonic() > deadline:
                raise RuntimeError("not ready in time")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            ctx = ssl.create_default_context(cafile=str(self.ca_file))
            req = urllib.request.Request(
                f"{self.url}/readyz", headers={"Authorization": f"Bearer {self.admin_token}"}
            )
            with urllib.request.urlopen(req, context=ctx, timeout=5):
                return True
        except (OSError, ssl.SSLError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        """kube-apiserver first, then etcd; SIGKILL what does not stop in 20 s."""
        for proc in reversed(self._procs):
            if proc.popen.poll() is None:
                proc.popen.terminate()
                try:
                    proc.popen.wait(20)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait(5)
            proc.log.close()
        self._procs.clear()

    # ------------------------------------------------------------------ API setup

    def install_crds(self, client: KubeClient, docs: list[dict[str, Any]]) -> None:
        """Create every CRD, then wait until all are Established."""
        for doc in docs:
            client.create(CRDS, doc, namespace=None, strict=False)
        pending = {d["metadata"]["name"] for d in docs}
        deadline = time.monotonic() + 180  # minutes, not seconds, on a machine under heavy load
        while pending:
            for name in sorted(pending):
                crd = client.crd(name) or {}
                conds = (crd.get("status") or {}).get("conditions") or []
                if any(c.get("type") == "Established" and c.get("status") == "True" for c in conds):
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: CRDs not Established: {sorted(pending)}")
            if pending:
                time.sleep(0.2)


def write_kubeconfig(path: Path, planes: Sequence[ControlPlane]) -> Path:
    """One kubeconfig: per control plane a cluster, users and contexts `<name>-admin|alice`."""
    clusters, users, contexts = [], [], []
    for cp in planes:
        clusters.append(
            {
                "name": cp.name,
                "cluster": {"server": cp.url, "certificate-authority": str(cp.ca_file)},
            }
        )
        for user, token in (("admin", cp.admin_token), (RESTRICTED_USER, cp.user_token)):
            users.append({"name": f"{cp.name}-{user}", "user": {"token": token}})
            contexts.append(
                {
                    "name": f"{cp.name}-{user}",
                    "context": {"cluster": cp.name, "user": f"{cp.name}-{user}"},
                }
            )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": contexts[0]["name"],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def client(kubeconfig: Path, context: str, *, cluster: str, timeout: float = 10.0) -> KubeClient:
    """A KubeClient built the way the runner builds one (kubeconfig + context)."""
    target = model.KubernetesTarget(kubeconfig=str(kubeconfig), context=context)
    return client_for_target(target, cluster=cluster, timeout=timeout)
