"""A small JSON Schema of the Kubernetes kinds under deploy/: the fields the API server
requires and the ones drill-runner depends on. Not a full OpenAPI schema, on purpose."""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}


def _meta(namespaced: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name", "namespace"] if namespaced else ["name"],
        "properties": {
            "name": NAME,
            "namespace": NAME,
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        **({} if namespaced else {"not": {"required": ["namespace"]}}),
    }


def _kind(api_version: str, kind: str, namespaced: bool, **props: Any) -> dict[str, Any]:
    required = ["apiVersion", "kind", "metadata", *props.pop("_required", [])]
    return {
        "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
        "then": {
            "required": required,
            "properties": {
                "apiVersion": {"const": api_version},
                "metadata": _meta(namespaced),
                **props,
            },
        },
    }


CONTAINER = {
    "type": "object",
    "required": ["name", "image"],
    "properties": {
        "name": NAME,
        "image": {"type": "string", "pattern": r":[A-Za-z0-9._-]+$"},
        "args": {"type": "array", "items": {"type": "string"}},
        "env": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "oneOf": [{"required": ["value"]}, {"required": ["valueFrom"]}],
            },
        },
        "volumeMounts": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "mountPath"]},
        },
    },
}
POD_SPEC = {
    "type": "object",
    "required": ["containers", "serviceAccountName", "securityContext"],
    "properties": {
        "containers": {"type": "array", "minItems": 1, "items": CONTAINER},
        "volumes": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        "restartPolicy": {"enum": ["Always", "OnFailure", "Never"]},
    },
}
TEMPLATE = {
    "type": "object",
    "required": ["metadata", "spec"],
    "properties": {"spec": POD_SPEC},
}
RULE = {
    "type": "object",
    "required": ["apiGroups", "resources", "verbs"],
    "properties": {
        "apiGroups": {"type": "array", "items": {"type": "string"}},
        "resources": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "verbs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "enum": ["get", "list", "watch", "create", "update", "patch", "delete"]
            },  # never "*" or deletecollection
        },
    },
}
BINDING = {
    "roleRef": {
        "type": "object",
        "required": ["apiGroup", "kind", "name"],
        "properties": {"apiGroup": {"const": "rbac.authorization.k8s.io"}},
    },
    "subjects": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "object", "required": ["kind", "name"]},
    },
    "_required": ["roleRef", "subjects"],
}

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "kind": {
            "enum": [
                "Namespace",
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "ClusterRole",
                "ClusterRoleBinding",
                "ConfigMap",
                "Deployment",
                "Service",
                "CronJob",
            ]
        }
    },
    "allOf": [
        _kind("v1", "Namespace", False),
        _kind("v1", "ServiceAccount", True),
        _kind("v1", "ConfigMap", True, data={"type": "object"}, _required=["data"]),
        _kind(
            "v1",
            "Service",
            True,
            spec={"type": "object", "required": ["selector", "ports"]},
            _required=["spec"],
        ),
        _kind(
            "rbac.authorization.k8s.io/v1",
            "Role",
            True,
            rules={"type": "array", "minItems": 1, "items": RULE},
            _required=["rules"],
        ),
        _kind(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            False,
            rules={"type": "array", "minItems": 1, "items": RULE},
            _required=["rules"],
        ),
        _kind("rbac.authorization.k8s.io/v1", "RoleBinding", True, **BINDING),
        _kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", False, **BINDING),
        _kind(
            "apps/v1",
            "Deployment",
            True,
            spec={
                "type": "object",
                "required": ["selector", "template"],
                "properties": {"template": TEMPLATE},
            },
            _required=["spec"],
        ),
        _kind(
            "batch/v1",
            "CronJob",
            True,
            spec={
                "type": "object",
                "required": ["schedule", "jobTemplate"],
                "properties": {
                    "jobTemplate": {
                        "type": "object",
                        "required": ["spec"],
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["template"],
                                "properties": {"template": TEMPLATE},
                            }
                        },
                    }
                },
            },
            _required=["spec"],
        ),
    ],
}
