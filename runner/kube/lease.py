"""Lease records (`coordination.k8s.io/v1`): the body, its time format and expiry.

Both Lease users build on this: the per-target drill lock (`runner.chaosmesh.lease`) and
the scheduler's leader election (`runner.scheduler.lease`). Every write that replaces a
Lease carries the resourceVersion it read, so of two writers racing exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from runner.kube.resources import LEASES


def kube_time(t: datetime) -> str:
    """A MicroTime as the API server writes it."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_kube_time(text: str | None) -> datetime | None:
    """An API server timestamp (Time or MicroTime) as an aware datetime; None if absent/bad."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def is_expired(lease: Mapping[str, Any], now: datetime, default_seconds: int) -> bool:
    """No holder, or not renewed within its leaseDurationSeconds."""
    spec = lease.get("spec") or {}
    if not spec.get("holderIdentity"):
        return True
    renewed = parse_kube_time(spec.get("renewTime")) or parse_kube_time(spec.get("acquireTime"))
    if renewed is None:
        return True
    duration = int(spec.get("leaseDurationSeconds") or default_seconds)
    return now > renewed + timedelta(seconds=duration)


def lease_body(
    *,
    name: str,
    namespace: str,
    holder_identity: str,
    lease_seconds: int,
    acquired: str,
    renewed: datetime,
    base: Mapping[str, Any] | None,
    labels: Mapping[str, str] | None = None,
    transitions: int | None = None,
) -> dict[str, Any]:
    """A Lease held by `holder_identity`; with `base`, a replacement of that version."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    if base is not None:
        meta["resourceVersion"] = (base.get("metadata") or {}).get("resourceVersion")
    spec: dict[str, Any] = {
        "holderIdentity": holder_identity,
        "leaseDurationSeconds": lease_seconds,
        "acquireTime": acquired,
        "renewTime": kube_time(renewed),
    }
    if transitions is not None:
        spec["leaseTransitions"] = transitions
    return {"apiVersion": LEASES.api_version, "kind": LEASES.kind, "metadata": meta, "spec": spec}
