"""Kubernetes API failures as drill-runner errors, translated once at the client boundary.

Every error names the cluster, the verb and the resource, and says what to do next.
Messages are built from the API server's Status body (reason, message, causes), never
from request headers, so a bearer token cannot leak into a message or a log.
"""

from __future__ import annotations

import json
from typing import Any

from runner.errors import KubeError

_BODY_LIMIT = 300


class KubeForbiddenError(KubeError):
    """RBAC denies the call: grant `verb` on `resource`."""


class KubeNotFoundError(KubeError):
    """The object does not exist."""


class KubeConflictError(KubeError):
    """Already exists, or a stale resourceVersion (someone else changed the object)."""


class KubeInvalidError(KubeError):
    """The server rejected the object (schema, strict field validation, admission)."""

    def __init__(
        self, message: str, *, status: int | None, cluster: str, causes: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, status=status, cluster=cluster)
        self.causes = causes


class KubeCrdMissingError(KubeError):
    """The resource type is not served: the CRD (e.g. Chaos Mesh) is not installed."""


class KubeWebhookError(KubeError):
    """An admission webhook could not be called (e.g. the Chaos Mesh controller is down)."""


class KubeUnreachableError(KubeError):
    """The API server did not answer (connection refused, DNS, TLS, timeout)."""


class KubeProtocolError(KubeError):
    """The server answered, but not as a Kubernetes API server does (an HTML page, a JSON
    list where an object belongs, another object than the one asked for)."""


class KubeDroppedFieldsError(KubeInvalidError):
    """The server accepted an object but silently dropped fields of it (Kubernetes < 1.25
    ignores strict field validation and prunes fields its schema does not know)."""

    def __init__(self, message: str, *, cluster: str, fields: tuple[str, ...]) -> None:
        super().__init__(
            message, status=None, cluster=cluster, causes=tuple(f"{f}: dropped" for f in fields)
        )
        self.fields = fields


def _status_body(body: str | bytes | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        return {}
    return data if isinstance(data, dict) and data.get("kind") == "Status" else {}


def _text(value: Any) -> str:
    """A Status field as text; a malformed Status may put anything anywhere."""
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, default=str)[:_BODY_LIMIT]


def _causes(details: Any) -> tuple[str, ...]:
    causes = details.get("causes") if isinstance(details, dict) else None
    if not isinstance(causes, list):
        return ()
    return tuple(
        f"{_text(c.get('field'))}: {_text(c.get('message'))}".strip(": ")
        for c in causes
        if isinstance(c, dict)
    )


def from_status(
    status: int, body: str | bytes | None, *, cluster: str, verb: str, what: str
) -> KubeError:
    """Map an HTTP error status and its body to the KubeError subclass that says what to do."""
    data = _status_body(body)
    reason = _text(data.get("reason"))[:80]
    message = _text(data.get("message"))
    if not data:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        text = text.strip()
        if text[:1] == "<":  # a proxy's or login portal's page: described, never quoted
            message = f"an HTML page ({len(text)} characters) instead of a Kubernetes Status"
        else:
            message = text.splitlines()[0][:_BODY_LIMIT] if text else ""
    where = f"cluster {cluster!r}: {verb} {what}"
    if status in (401,):
        return KubeForbiddenError(
            f"{where}: unauthorized (401): the credentials of this kubeconfig context were "
            "rejected or expired; log in again",
            status=status,
            cluster=cluster,
        )
    if status == 403:
        return KubeForbiddenError(
            f"{where}: forbidden: {message or 'RBAC denies it'}; grant verb {verb!r} on {what} "
            "to the runner's identity (see docs/chaos-mesh.md, RBAC)",
            status=status,
            cluster=cluster,
        )
    if status == 404:
        if reason == "NotFound":
            return KubeNotFoundError(f"{where}: not found: {message}", status=404, cluster=cluster)
        return KubeCrdMissingError(
            f"{where}: the resource type is not served by this cluster; is the CRD installed "
            "(for Chaos Mesh kinds: install Chaos Mesh >= 2.8)?",
            status=404,
            cluster=cluster,
        )
    if status == 409:
        return KubeConflictError(f"{where}: conflict: {message}", status=409, cluster=cluster)
    if "failed calling webhook" in message or "failed to call webhook" in message:
        return KubeWebhookError(
            f"{where}: an admission webhook is unavailable: {message}; is the Chaos Mesh "
            "controller-manager running? (see docs/chaos-mesh.md, 'Controller gone')",
            status=status,
            cluster=cluster,
        )
    if status in (400, 422):
        causes = _causes(data.get("details"))
        return KubeInvalidError(
            f"{where}: rejected ({reason or status}): {message}",
            status=status,
            cluster=cluster,
            causes=causes,
        )
    return KubeError(
        f"{where}: HTTP {status} {reason}: {message}".rstrip(": "), status=status, cluster=cluster
    )


def unreachable(cluster: str, verb: str, what: str, exc: BaseException) -> KubeUnreachableError:
    """A transport failure (urllib3) as an actionable error; the URL has no credentials."""
    cause = type(exc).__name__
    reason = getattr(exc, "reason", None)
    detail = f"{cause}: {type(reason).__name__}" if reason is not None else cause
    return KubeUnreachableError(
        f"cluster {cluster!r}: {verb} {what}: the API server is unreachable ({detail}); check "
        "the kubeconfig server address, the network path and the VPN",
        cluster=cluster,
    )


def not_kubernetes(
    cluster: str, verb: str, what: str, raw: bytes, content_type: str | None, why: str
) -> KubeProtocolError:
    """An answer that is not what a Kubernetes API server sends; the body is described, not
    quoted (a login page or a proxy's error page can carry anything)."""
    kind = (content_type or "no content type").split(";")[0].strip()
    return KubeProtocolError(
        f"cluster {cluster!r}: {verb} {what}: the server's answer is not a Kubernetes API "
        f"response ({why}; {kind}, {len(raw)} bytes); check that the kubeconfig's server "
        "address is the API server itself, not a login page, a proxy or another service",
        cluster=cluster,
    )
