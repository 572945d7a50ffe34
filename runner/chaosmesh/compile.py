"""Faults → Chaos Mesh manifests for one target cluster (pure functions, no I/O).

Every object gets drill-runner's labels and annotations, explicit
`selector.namespaces` (the Chaos Mesh webhook would otherwise default them to the
object's own namespace), a DNS-safe name `<run-id>-<fault>[-<part>]`, the target's
namespace, and `spec.duration` = fault duration + `duration_margin(...)`: the fault
recovers by itself if the runner dies. See docs/chaos-mesh.md for what each maps to.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Never, NoReturn

from runner import backends
from runner.errors import ConfigurationError
from runner.kube.resources import CHAOS_API_VERSION, CHAOS_GROUP
from runner.scenario import crds, model
from runner.scenario.values import format_duration

MIN_MARGIN = timedelta(seconds=30)
MAX_MARGIN = timedelta(minutes=5)
ONE_SHOT = frozenset(
    {
        ("PodChaos", "pod-kill"),
        ("PodChaos", "container-kill"),
        ("AWSChaos", "ec2-restart"),
        ("AzureChaos", "vm-restart"),
        ("GCPChaos", "node-reset"),
    }
)
UNSUPPORTED_RAW = frozenset(crds.RAW_FAULT_REFUSALS)
"""Chaos Mesh kinds a raw fault may not have (the reasons: `crds.RAW_FAULT_REFUSALS`)."""


class ManifestError(ConfigurationError):
    """A fault cannot be turned into a safe Chaos Mesh object."""


@dataclass(frozen=True, kw_only=True)
class Stamp:
    """Who creates the objects: stamped as labels and annotations."""

    run_id: str
    scenario: str
    drill: str
    operator: str

    @classmethod
    def of(cls, run: backends.RunContext) -> Stamp:
        return cls(run_id=run.run_id, scenario=run.scenario, drill=run.drill, operator=run.operator)


@dataclass(frozen=True, kw_only=True)
class ChaosObject:
    """One Chaos Mesh object to create."""

    kind: str
    name: str
    namespace: str
    manifest: dict[str, Any]
    one_shot: bool = False


def duration_margin(duration: timedelta) -> timedelta:
    """Slack added to spec.duration: 10 % of the fault, at least 30 s, at most 5 min.

    Chaos Mesh counts duration from creationTimestamp, so controller latency eats into
    it; the runner removes the object itself when the fault's window ends.
    """
    return min(MAX_MARGIN, max(MIN_MARGIN, duration / 10))


def chaos_duration(duration: timedelta) -> str:
    """A Go duration string (`5m30s`) for duration + margin."""
    return format_duration(duration + duration_margin(duration))


def object_name(run_id: str, fault: str, part: str = "") -> str:
    """`<run-id>-<fault>[-<part>]` as a DNS label (≤ 63 chars, a hash keeps it unique)."""
    raw = "-".join(p for p in (run_id, fault, part) if p).lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")
    if len(name) > 63:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
        name = f"{name[:54].rstrip('-')}-{digest}"
    return name or "drill"


def _metadata(stamp: Stamp, fault: str, name: str, namespace: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {
            backends.LABEL_MANAGED_BY: backends.MANAGED_BY,
            backends.LABEL_RUN_ID: stamp.run_id,
            backends.LABEL_SCENARIO: stamp.scenario,
            backends.LABEL_FAULT: fault,
        },
        "annotations": {
            backends.ANNOTATION_DRILL: stamp.drill,
            backends.ANNOTATION_OPERATOR: stamp.operator,
        },
    }


def _selector(fault: str, sel: model.PodSelector) -> dict[str, Any]:
    namespaces = list(sel.namespaces) or sorted(sel.pods)
    if not namespaces:
        raise ManifestError(
            f"fault {fault!r}: selector.namespaces is empty; name the namespaces explicitly "
            "(Chaos Mesh would otherwise target the namespace the object lives in)"
        )
    out: dict[str, Any] = {"namespaces": namespaces}
    if sel.labels:
        out["labelSelectors"] = dict(sel.labels)
    if sel.expressions:
        out["expressionSelectors"] = [dict(e) for e in sel.expressions]
    if sel.pods:
        out["pods"] = {ns: list(pods) for ns, pods in sel.pods.items()}
    return out


def _peer_addresses(fault: str, peer: str, peers: Mapping[str, model.Target]) -> list[str]:
    target = peers.get(peer)
    if target is None:
        raise ManifestError(f"fault {fault!r}: peer {peer!r} is not a target of the drill")
    if not target.addresses:
        raise ManifestError(
            f"fault {fault!r}: peer target {peer!r} has no 'addresses'; list the IPs/CIDRs of "
            f"its pods (or its load balancers) under targets.{peer}.addresses in the drill"
        )
    return list(target.addresses)


def _chaos(
    kind: str, stamp: Stamp, fault: str, name: str, namespace: str, spec: dict[str, Any]
) -> ChaosObject:
    manifest = {
        "apiVersion": CHAOS_API_VERSION,
        "kind": kind,
        "metadata": _metadata(stamp, fault, name, namespace),
        "spec": spec,
    }
    action = str(spec.get("action", ""))
    return ChaosObject(
        kind=kind,
        name=name,
        namespace=namespace,
        manifest=manifest,
        one_shot=(kind, action) in ONE_SHOT,
    )


def compile_fault(
    fault: model.Fault,
    *,
    namespace: str,
    peers: Mapping[str, model.Target],
    stamp: Stamp,
) -> list[ChaosObject]:
    """The Chaos Mesh objects for one fault, each checked against its upstream CRD schema."""
    objects = _compile(fault, namespace=namespace, peers=peers, stamp=stamp)
    for o in objects:
        problems = crds.validate_manifest(o.manifest)
        if problems:
            text = "; ".join(f"{path}: {message}" for path, message in problems)
            raise ManifestError(f"fault {fault.name!r}: {o.kind} {o.name!r} is invalid: {text}")
    return objects


def _compile(
    fault: model.Fault,
    *,
    namespace: str,
    peers: Mapping[str, model.Target],
    stamp: Stamp,
) -> list[ChaosObject]:
    """One case per fault type (checked exhaustively by mypy); an unknown type is refused,
    never compiled as something else."""
    n = fault.name

    def obj(kind: str, spec: dict[str, Any], part: str = "") -> ChaosObject:
        return _chaos(kind, stamp, n, object_name(stamp.run_id, n, part), namespace, spec)

    match fault:
        case model.ChaosMeshFault():
            return [_raw(fault, namespace=namespace, stamp=stamp)]
        case model.ClusterLossFault():
            return _cluster_loss(fault, obj)
        case model.NetworkPartitionFault():
            spec: dict[str, Any] = {
                "action": "partition",
                "mode": "all",
                "selector": _selector(n, fault.selector),
                "direction": fault.direction,
                "externalTargets": _peer_addresses(n, fault.peer, peers),
                "duration": chaos_duration(fault.duration),
            }
            return [obj("NetworkChaos", spec)]
        case model.ReplicationLagFault():
            return _replication_lag(fault, obj, peers)
        case model.PodKillFault():
            return [obj("PodChaos", _pod_kill(fault))]
        case _:
            _refuse(fault)


Make = Callable[[str, dict[str, Any], str], ChaosObject]


def _refuse(fault: Never) -> NoReturn:
    name, kind = getattr(fault, "name", "?"), getattr(fault, "type", type(fault).__name__)
    raise ManifestError(f"fault {name!r}: type {kind!r} is not supported by Chaos Mesh")


def _cluster_loss(fault: model.ClusterLossFault, obj: Make) -> list[ChaosObject]:
    sel = _selector(fault.name, model.PodSelector(namespaces=fault.namespaces))
    duration = chaos_duration(fault.duration)
    partition = {"action": "partition", "mode": "all", "selector": sel, "direction": "both"}
    partition["duration"] = duration
    if fault.effect == "hang":
        return [obj("NetworkChaos", partition, "")]
    pods = {"action": "pod-failure", "mode": "all", "selector": sel, "duration": duration}
    out = [obj("PodChaos", pods, "")]
    if fault.isolate_network:
        out.append(obj("NetworkChaos", partition, "net"))
    return out


def _replication_lag(
    fault: model.ReplicationLagFault, obj: Make, peers: Mapping[str, model.Target]
) -> list[ChaosObject]:
    base = {
        "mode": "all",
        "selector": _selector(fault.name, fault.selector),
        "direction": "to",
        "externalTargets": _peer_addresses(fault.name, fault.peer, peers),
        "duration": chaos_duration(fault.duration),
    }
    out = []
    if fault.delay is not None:
        delay = {
            "latency": format_duration(fault.delay.latency),
            "jitter": format_duration(fault.delay.jitter),
            "correlation": f"{fault.delay.correlation:g}",
        }
        out.append(obj("NetworkChaos", {"action": "delay", **base, "delay": delay}, "delay"))
    if fault.bandwidth is not None:
        bw = fault.bandwidth
        shape = {"rate": bw.rate, "limit": bw.limit, "buffer": bw.buffer}
        out.append(
            obj("NetworkChaos", {"action": "bandwidth", **base, "bandwidth": shape}, "bandwidth")
        )
    return out


def _pod_kill(fault: model.PodKillFault) -> dict[str, Any]:
    """One-shot; duration is ignored by Chaos Mesh but still set."""
    spec: dict[str, Any] = {"action": "pod-kill", "mode": fault.mode}
    spec["selector"] = _selector(fault.name, fault.selector)
    if fault.value is not None:
        spec["value"] = fault.value
    spec["gracePeriod"] = fault.grace_period
    spec["duration"] = chaos_duration(fault.duration)
    return spec


def _require_namespaces(fault: str, kind: str, spec: dict[str, Any], namespace: str) -> None:
    """A pasted pod selector must name its namespaces: Chaos Mesh's webhook would fill in
    the chaos object's own namespace, so the fault would select pods where it lives."""
    for path in (("selector",), ("target", "selector")):
        if not crds.declares(kind, ("spec", *path)):
            continue
        parent: Any = spec.get("target") if path[0] == "target" else spec
        if path[0] == "target" and not parent:
            continue  # no target side: nothing is selected there
        if kind == "PhysicalMachineChaos" and "selector" not in spec:
            continue  # it selects by `address` instead
        selector = parent.get("selector") if isinstance(parent, dict) else None
        namespaces = selector.get("namespaces") if isinstance(selector, dict) else None
        if not namespaces:
            where = ".".join(("manifest.spec", *path, "namespaces"))
            pods = selector.get("pods") if isinstance(selector, dict) else None
            hint = f" (here: {sorted(pods)})" if isinstance(pods, dict) and pods else ""
            raise ManifestError(
                f"fault {fault!r}: {where} is missing or empty; name the namespaces to select "
                f"in{hint}. Chaos Mesh would otherwise select in {namespace!r}, the namespace "
                "the chaos object is created in, not where your workload runs"
            )


def _raw(fault: model.ChaosMeshFault, *, namespace: str, stamp: Stamp) -> ChaosObject:
    """A pasted upstream manifest: only metadata and (if absent) spec.duration change."""
    m = copy.deepcopy(fault.manifest)
    api_version, kind = str(m.get("apiVersion", "")), str(m.get("kind", ""))
    if api_version.split("/")[0] != CHAOS_GROUP or not kind:
        raise ManifestError(
            f"fault {fault.name!r}: manifest must be a {CHAOS_GROUP} object "
            f"(apiVersion {api_version!r}, kind {kind!r})"
        )
    refusal = crds.raw_fault_refusal(kind)
    if refusal is not None:
        raise ManifestError(f"fault {fault.name!r}: {refusal}")
    spec = m.setdefault("spec", {})
    if not isinstance(spec, dict):
        raise ManifestError(f"fault {fault.name!r}: manifest.spec must be a mapping")
    if fault.duration is not None and "duration" not in spec:
        spec["duration"] = chaos_duration(fault.duration)
    _require_namespaces(fault.name, kind, spec, namespace)
    one_shot = (kind, str(spec.get("action", ""))) in ONE_SHOT
    if "duration" not in spec and not one_shot:
        raise ManifestError(
            f"fault {fault.name!r}: give 'duration' (or manifest.spec.duration) so the fault "
            "recovers by itself if the runner dies"
        )
    name = object_name(stamp.run_id, fault.name)
    meta = _metadata(stamp, fault.name, name, namespace)
    old = m.get("metadata") or {}
    meta["labels"] = {**(old.get("labels") or {}), **meta["labels"]}
    meta["annotations"] = {**(old.get("annotations") or {}), **meta["annotations"]}
    m["metadata"] = meta
    return ChaosObject(kind=kind, name=name, namespace=namespace, manifest=m, one_shot=one_shot)
