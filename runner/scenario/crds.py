"""Offline checks of Chaos Mesh manifests against the vendored upstream CRD schemas.

This module owns what a Chaos Mesh object must look like before any cluster sees it:
apiVersion `chaos-mesh.org/v1alpha1`, one of the 23 upstream kinds, and a body that
validates against that kind's `openAPIV3Schema` (vendored in `runner/schemas/chaos-mesh/`,
see its README). Schemas load on first use and stay cached; `jsonschema` is imported only
then. The Chaos Mesh code validates the manifests it generates with `validate_manifest`.

A manifest pasted as a raw fault (`raw_fault_problems`) must also be a fault Chaos Mesh's
controllers inject: 14 of the 23 kinds. Internal records the controllers create themselves
(`PodNetworkChaos`, `WorkflowNode`, ...: `INTERNAL_KINDS`) are refused at validation, with
the reason. Every other upstream object validates as pasted; of those, the ones drill-runner
cannot yet run as a fault (`RAW_FAULT_REFUSALS`: objects that are not faults, and
`Schedule`/`Workflow`, whose children it could not label nor clean up) are refused when a
drill is planned or run, with the same reason.

Like the API server, the CRD schemas allow unknown fields (no CRD sets
`additionalProperties: false`), so a misspelled key passes here as it would there.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

from runner.scenario.source import Key, Path_, format_path

GROUP = "chaos-mesh.org"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}

_NOT_LABELLED = (
    "it creates chaos objects of its own, which drill-runner does not label and so could not "
    "clean up; paste the chaos kind itself"
)
RAW_FAULT_REFUSALS: Mapping[str, str] = MappingProxyType(
    {
        "PodNetworkChaos": "it is an internal per-pod record that Chaos Mesh's NetworkChaos "
        "controller creates and owns, not a fault to create; write a NetworkChaos",
        "PodIOChaos": "it is an internal per-pod record that Chaos Mesh's IOChaos controller "
        "creates and owns, not a fault to create; write an IOChaos",
        "PodHttpChaos": "it is an internal per-pod record that Chaos Mesh's HTTPChaos "
        "controller creates and owns, not a fault to create; write an HTTPChaos",
        "WorkflowNode": "it is an internal record that Chaos Mesh's Workflow controller "
        "creates for each step of a running Workflow, not a fault",
        "StatusCheck": "it is not a fault: it is a health check (a Workflow's statusCheck "
        "step creates one)",
        "RemoteCluster": "it is not a fault: it installs Chaos Mesh into another cluster "
        "(drill-runner creates faults in each target cluster directly)",
        "PhysicalMachine": "it is not a fault: it registers a chaosd host for "
        "PhysicalMachineChaos; write a PhysicalMachineChaos",
        "Schedule": _NOT_LABELLED,
        "Workflow": _NOT_LABELLED,
    }
)
"""Chaos Mesh kinds a raw fault cannot be run as, each with the reason."""

INTERNAL_KINDS = frozenset({"PodNetworkChaos", "PodIOChaos", "PodHttpChaos", "WorkflowNode"})
"""Records only Chaos Mesh's own controllers create: refused already at validation."""


def raw_fault_refusal(kind: object) -> str | None:
    """Why a raw fault cannot be of `kind`; None for a fault kind (or an unknown one)."""
    if not isinstance(kind, str) or kind not in RAW_FAULT_REFUSALS:
        return None
    return f"kind {kind} is not supported as a raw fault: {RAW_FAULT_REFUSALS[kind]}"


def raw_fault_problems(obj: object) -> list[tuple[Path_, str]]:
    """`manifest_problems` of a manifest pasted as a raw fault; an internal kind is refused.

    An internal kind is reported at `kind` (with any apiVersion problem) instead of its
    schema problems, which would not matter. Upstream objects of other kinds validate as
    pasted; the ones that cannot run as a fault are refused at plan/run time.
    """
    problems = manifest_problems(obj)
    kind = obj.get("kind") if isinstance(obj, Mapping) else None
    if kind not in INTERNAL_KINDS:
        return problems
    refusal = raw_fault_refusal(kind)
    assert refusal is not None
    return [p for p in problems if p[0] == ("apiVersion",)] + [(("kind",), refusal)]


def known_kinds() -> list[str]:
    """Every Chaos Mesh kind there is a vendored schema for, sorted."""
    return sorted(_index())


def plural(kind: str) -> str:
    """The resource plural of `kind` (`NetworkChaos` -> `networkchaos`); KeyError if unknown."""
    return str(_index()[kind]["plural"])


def namespaced(kind: str) -> bool:
    """False only for cluster-scoped kinds (RemoteCluster); KeyError if unknown."""
    return bool(_index()[kind]["namespaced"])


def declares(kind: str, path: tuple[str, ...]) -> bool:
    """Whether the schema of `kind` declares the object field at `path` (e.g.
    `('spec', 'target', 'selector')`); False for an unknown kind."""
    if kind not in _index():
        return False
    node: Any = json.loads(_read(f"{kind}.json"))
    for key in path:
        node = (node.get("properties") or {}).get(key) if isinstance(node, dict) else None
        if node is None:
            return False
    return True


def validate_manifest(obj: object) -> list[tuple[str, str]]:
    """Problems of one Chaos Mesh object as (field path, message); empty when valid."""
    return [(format_path(path), message) for path, message in manifest_problems(obj)]


def manifest_problems(obj: object) -> list[tuple[Path_, str]]:
    """Like `validate_manifest`, with paths as tuples (`('spec', 'selector', 'mode')`)."""
    if not isinstance(obj, Mapping):
        return [((), "expected a mapping (a Chaos Mesh object)")]
    problems: list[tuple[Path_, str]] = []
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version is None:
        problems.append((("apiVersion",), f"missing required field 'apiVersion' ({API_VERSION})"))
    elif api_version != API_VERSION:
        problems.append((("apiVersion",), f"expected {API_VERSION!r}, got {_show(api_version)}"))
    kinds = known_kinds()
    if kind is None:
        problems.append((("kind",), "missing required field 'kind'"))
        return problems
    if kind not in kinds:
        close = difflib.get_close_matches(str(kind), kinds, n=1)
        hint = (
            f" (did you mean {close[0]!r}?)" if close else f"; expected one of: {', '.join(kinds)}"
        )
        problems.append((("kind",), f"not a Chaos Mesh kind: {_show(kind)}{hint}"))
        return problems
    validator = _validator(str(kind))
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        problems.append(_problem(error))
    return problems


def _problem(error: Any) -> tuple[Path_, str]:
    path: tuple[Key, ...] = tuple(error.absolute_path)
    value = error.instance
    check, expected = error.validator, error.validator_value
    if check == "required":
        missing = next((name for name in expected if name not in value), expected[0])
        return (*path, missing), f"missing required field {missing!r}"
    got = f", got {_show(value)}"
    if check == "enum":
        return path, f"expected one of {', '.join(repr(v) for v in expected)}{got}"
    if check == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return path, f"expected {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}{got}"
    if check == "anyOf" and all("type" in s for s in expected):
        return (
            path,
            f"expected {' or '.join(_TYPE_NAMES.get(s['type'], s['type']) for s in expected)}{got}",
        )
    if check in ("minimum", "maximum"):
        sign = ">=" if check == "minimum" else "<="
        return path, f"expected a number {sign} {expected}{got}"
    if check == "pattern":
        return path, f"expected text matching {expected}{got}"
    if check in ("minItems", "maxItems", "minLength", "maxLength"):
        return path, f"{check} is {expected}{got}"
    return path, str(error.message)


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@functools.cache
def _index() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(_read("index.json"))
    return data


@functools.cache
def _validator(kind: str) -> Any:
    jsonschema: Any = importlib.import_module("jsonschema")  # imported on first use only
    schema = json.loads(_read(f"{kind}.json"))
    return jsonschema.Draft4Validator(schema)


def _read(name: str) -> str:
    return resources.files("runner").joinpath("schemas", "chaos-mesh", name).read_text("utf-8")
