"""Leader election with a coordination.k8s.io/v1 Lease, through `runner.kube`.

The leader writes its identity and `renewTime` on every tick; a standby takes the Lease
over only when it has not been renewed for `lease_seconds`. Every write carries the
resourceVersion it read, so of two replicas racing for an expired Lease exactly one wins
(the other gets 409 Conflict and stands by). Expiry is judged with the injected clock.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

from runner.clock import Clock
from runner.errors import KubeError
from runner.kube.client import KubeClient
from runner.kube.errors import KubeConflictError, KubeNotFoundError
from runner.kube.lease import is_expired, kube_time, lease_body, parse_kube_time
from runner.kube.resources import LEASES

log = logging.getLogger(__name__)

LEASE_NAME = "drill-runner-scheduler"


class LeaseLeader:
    """Leadership as a Lease in `namespace` (implements `leader.Leadership`)."""

    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str,
        identity: str,
        clock: Clock,
        lease_seconds: int = 30,
        name: str = LEASE_NAME,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.identity = identity
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.name = name
        self.leading = False

    def hold(self) -> bool:
        try:
            self.leading = self._hold()
        except KubeError as e:
            # Cannot tell: stop leading (a partitioned leader must not keep running drills).
            log.warning("lease %s/%s: %s; standing by", self.namespace, self.name, e)
            self.leading = False
        return self.leading

    def _hold(self) -> bool:
        lease = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
        now = self.clock.now()
        if lease is None:
            body = self._body(acquired=now, transitions=0, base=None)
            try:
                self.client.create(LEASES, body, namespace=self.namespace)
            except KubeConflictError:
                return False
            log.info("became the leader (lease %s/%s created)", self.namespace, self.name)
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder != self.identity and not is_expired(lease, now, self.lease_seconds):
            return False
        mine = holder == self.identity
        acquired = parse_kube_time(spec.get("acquireTime")) if mine else now
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        body = self._body(acquired=acquired or now, transitions=transitions, base=lease)
        try:
            self.client.replace(LEASES, self.name, body, namespace=self.namespace)
        except (KubeConflictError, KubeNotFoundError):
            return False
        if not mine:
            log.info("became the leader (took over from %s)", holder or "nobody")
        return True

    def _body(
        self, *, acquired: datetime, transitions: int, base: dict[str, Any] | None
    ) -> dict[str, Any]:
        return lease_body(
            name=self.name,
            namespace=self.namespace,
            holder_identity=self.identity,
            lease_seconds=self.lease_seconds,
            acquired=kube_time(acquired),
            renewed=self.clock.now(),
            base=base,
            transitions=transitions,
        )

    def release(self) -> None:
        """Clear the holder so a standby takes over at its next tick (not after expiry)."""
        if not self.leading:
            return
        self.leading = False
        with contextlib.suppress(KubeError):
            lease = self.client.get_or_none(LEASES, self.name, namespace=self.namespace)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            body = dict(lease)
            body["spec"] = {**lease["spec"], "holderIdentity": None, "renewTime": None}
            self.client.replace(LEASES, self.name, body, namespace=self.namespace)
