"""The status subresource, for tests that play a controller (envtest runs none).

A Deployment's status changes only through `.../deployments/<name>/status` on a real
API server: a `status` in a write to the object itself is silently dropped. The Chaos
Mesh chaos CRDs declare `subresources: {}` (no status subresource), so their controller,
and `tests.kube.fake_controller`, write status together with the object.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.kube.resources import Resource


@dataclass(frozen=True)
class StatusOf(Resource):
    """The status subresource of a resource type (only meaningful with a name)."""

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        return f"{super().path(namespace, name)}/status"


def status_of(res: Resource) -> StatusOf:
    return StatusOf(res.group, res.version, res.plural, res.kind, res.namespaced)
