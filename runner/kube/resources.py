"""Which Kubernetes resource types drill-runner talks to, as frozen values.

A `Resource` is everything needed to build a URL (group, version, plural, scope) plus
the kind for manifests and messages. Chaos Mesh kinds are looked up by kind name.
"""

from __future__ import annotations

from dataclasses import dataclass

CHAOS_GROUP = "chaos-mesh.org"
CHAOS_VERSION = "v1alpha1"
CHAOS_API_VERSION = f"{CHAOS_GROUP}/{CHAOS_VERSION}"


@dataclass(frozen=True)
class Resource:
    """A resource type on the API server."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """The RBAC-style name, e.g. `networkchaos.chaos-mesh.org` or `pods`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
PODS = Resource("", "v1", "pods", "Pod")
CRDS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)
SELF_SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False
)

_CHAOS_KINDS = (
    *("PodChaos", "NetworkChaos", "StressChaos", "IOChaos", "TimeChaos", "DNSChaos"),
    *("HTTPChaos", "AWSChaos", "GCPChaos", "AzureChaos", "BlockChaos", "JVMChaos"),
    *("KernelChaos", "PhysicalMachineChaos"),
)
CHAOS_KINDS: dict[str, Resource] = {
    kind: Resource(CHAOS_GROUP, CHAOS_VERSION, kind.lower(), kind) for kind in _CHAOS_KINDS
}
CHAOS_KINDS["Schedule"] = Resource(CHAOS_GROUP, CHAOS_VERSION, "schedules", "Schedule")
CHAOS_KINDS["Workflow"] = Resource(CHAOS_GROUP, CHAOS_VERSION, "workflows", "Workflow")


def chaos_resource(kind: str) -> Resource:
    """The Chaos Mesh resource for a kind; unknown kinds get the lower-case plural rule."""
    return CHAOS_KINDS.get(kind) or Resource(CHAOS_GROUP, CHAOS_VERSION, kind.lower(), kind)
