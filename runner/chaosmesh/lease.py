"""`LeaseLock`: one drill per Kubernetes target, as a coordination.k8s.io/v1 Lease.

The Lease lives in the target's namespace; its holder is the run id. A background
thread renews it while the run lives; if the runner dies, renewals stop and the lease
expires after `lease_seconds`, so another run can take it over. Every write carries
the resourceVersion it read (optimistic concurrency): of two runs racing, exactly one
wins and the other gets `LockHeldError` naming the holder.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from runner import backends
from runner.clock import Clock
from runner.errors import LockHeldError
from runner.kube.client import KubeClient
from runner.kube.errors import KubeConflictError, KubeNotFoundError
from runner.kube.lease import is_expired, kube_time, lease_body
from runner.kube.resources import LEASES

log = logging.getLogger(__name__)

LEASE_NAME = "drill-runner-lock"


class LeaseLock:
    """A per-target Lease lock (implements TargetLock)."""

    def __init__(
        self,
        client: KubeClient,
        *,
        target: str,
        namespace: str,
        clock: Clock,
        lease_seconds: int = 60,
        name: str = LEASE_NAME,
        auto_renew: bool = True,
    ) -> None:
        self.client = client
        self.target = target
        self.namespace = namespace
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.name = name
        self.auto_renew = auto_renew
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _body(self, run_id: str, acquired: str, base: dict[str, Any] | None) -> dict[str, Any]:
        return lease_body(
            name=self.name,
            namespace=self.namespace,
            holder_identity=run_id,
            lease_seconds=self.lease_seconds,
            acquired=acquired,
            renewed=self.clock.now(),
            base=base,
            labels={backends.LABEL_MANAGED_BY: backends.MANAGED_BY},
        )

    def _expired(self, lease: dict[str, Any]) -> bool:
        return is_expired(lease, self.clock.now(), self.lease_seconds)

    def _held(self, lease: dict[str, Any]) -> LockHeldError:
        spec = lease.get("spec") or {}
        since = str(spec.get("acquireTime") or spec.get("renewTime") or "unknown")
        return LockHeldError(self.target, str(spec.get("holderIdentity")), since)

    def acquire(self, run: backends.RunContext) -> None:
        lease = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
        now = kube_time(self.clock.now())
        try:
            if lease is None:
                body = self._body(run.run_id, now, None)
                self.client.create(LEASES, body, namespace=self.namespace)
            else:
                holder = (lease.get("spec") or {}).get("holderIdentity")
                if holder != run.run_id and not self._expired(lease):
                    raise self._held(lease)
                if holder != run.run_id:
                    log.info("taking over expired lease of run %s on %s", holder, self.target)
                acquired = now if holder != run.run_id else lease["spec"].get("acquireTime", now)
                body = self._body(run.run_id, acquired, lease)
                self.client.replace(LEASES, self.name, body, namespace=self.namespace)
        except KubeConflictError:
            current = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
            if current is None:
                raise LockHeldError(self.target, "unknown (lease changed)", now) from None
            raise self._held(current) from None
        run.log("lock.acquired", {"target": self.target, "lease": self.name})
        if self.auto_renew:
            self._start_renewer(run)

    def renew(self, run: backends.RunContext) -> None:
        lease = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != run.run_id:
            raise self._held(lease) if lease else LockHeldError(self.target, "nobody", "-")
        acquired = lease["spec"].get("acquireTime") or kube_time(self.clock.now())
        try:
            self.client.replace(
                LEASES, self.name, self._body(run.run_id, acquired, lease), namespace=self.namespace
            )
        except KubeConflictError:
            current = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
            if current is None or current["spec"].get("holderIdentity") != run.run_id:
                raise self._held(current or lease) from None

    def release(self, run: backends.RunContext) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(5)
        lease = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != run.run_id:
            return
        with contextlib.suppress(KubeNotFoundError):
            self.client.delete(LEASES, self.name, namespace=self.namespace)
        run.log("lock.released", {"target": self.target, "lease": self.name})

    def holder(self) -> backends.LockHolder | None:
        lease = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
        if lease is None or not (lease.get("spec") or {}).get("holderIdentity"):
            return None
        spec = lease.get("spec") or {}
        return backends.LockHolder(
            run_id=str(spec.get("holderIdentity")),
            since=str(spec.get("acquireTime") or spec.get("renewTime") or "unknown"),
            expired=self._expired(lease),
            detail=f"Lease {self.namespace}/{self.name} renewed {spec.get('renewTime')}, "
            f"for {spec.get('leaseDurationSeconds') or self.lease_seconds}s",
        )

    def release_dead(self, run_id: str) -> bool:
        """Delete the Lease if `run_id` holds it, on the resourceVersion read: if anyone took
        it over meanwhile, the server refuses (409) and nothing is released."""
        lease = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != run_id:
            return False
        version = (lease.get("metadata") or {}).get("resourceVersion")
        try:
            self.client.delete(
                LEASES, self.name, namespace=self.namespace, resource_version=version
            )
        except (KubeNotFoundError, KubeConflictError):
            return False
        return True

    def force_unlock(self) -> str | None:
        """Delete the lease whoever holds it; returns the holder it had (None if none)."""
        lease = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
        if lease is None:
            return None
        try:
            self.client.delete(LEASES, self.name, namespace=self.namespace)
        except KubeNotFoundError:
            return None
        return str((lease.get("spec") or {}).get("holderIdentity"))

    def _start_renewer(self, run: backends.RunContext) -> None:
        self._stop.clear()
        interval = max(1.0, self.lease_seconds / 3)

        def loop() -> None:
            # Real-time pacing on purpose: the lease expires in real time on the server.
            while not self._stop.wait(interval):
                try:
                    self.renew(run)
                except Exception as e:
                    log.warning("renewing the lease on %s failed: %s", self.target, e)

        self._renewer = threading.Thread(target=loop, name=f"lease-{self.target}", daemon=True)
        self._renewer.start()
