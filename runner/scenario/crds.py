"""Offline checks of Chaos Mesh manifests against the vendored upstream CRD schemas.

This module owns what a Chaos Mesh object must look like before any cluster sees it:
apiVersion `chaos-mesh.org/v1alpha1`, one of the 23 upstream kinds, and a body that
validates against that kind's `openAPIV3Schema` (vendored in `runner/schemas/chaos-mesh/`,
see its README). Schemas load on first use and stay cached; `jsonschema` is imported only
then. The Chaos Mesh code validates the manifests it generates with `validate_manifest`.

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


def known_kinds() -> list[str]:
    """Every Chaos Mesh kind there is a vendored schema for, sorted."""
    return sorted(_index())


def plural(kind: str) -> str:
    """The resource plural of `kind` (`NetworkChaos` -> `networkchaos`); KeyError if unknown."""
    return str(_index()[kind]["plural"])


def namespaced(kind: str) -> bool:
    """False only for cluster-scoped kinds (RemoteCluster); KeyError if unknown."""
    return bool(_index()[kind]["namespaced"])


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
