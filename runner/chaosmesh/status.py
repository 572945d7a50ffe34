"""Reading a Chaos Mesh object's status: has it selected, injected, failed, is it stuck?

Pure functions over the object dict, after upstream's `ChaosStatus` (conditions
Selected / AllInjected / AllRecovered / Paused, `status.experiment.containerRecords`).
One-shot actions never reach AllRecovered, so injection is judged the same for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Phase(Enum):
    PENDING = "pending"
    INJECTED = "injected"
    NOT_SELECTED = "not-selected"


@dataclass(frozen=True)
class Injection:
    phase: Phase
    failures: tuple[str, ...] = ()
    """Messages of records whose last event failed (for error messages)."""


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    items = (obj.get("status") or {}).get("conditions") or []
    return {str(c.get("type")): str(c.get("status")) for c in items if isinstance(c, dict)}


def record_failures(obj: dict[str, Any]) -> tuple[str, ...]:
    experiment = (obj.get("status") or {}).get("experiment") or {}
    out = []
    for rec in experiment.get("containerRecords") or []:
        events = rec.get("events") or []
        if events and events[-1].get("type") == "Failed":
            last = events[-1]
            op = last.get("operation", "")
            out.append(f"{rec.get('id')}: {op} failed: {last.get('message')}")
    return tuple(out)


def injection(obj: dict[str, Any]) -> Injection:
    """Where injection stands: Selected and AllInjected True means injected."""
    cond = conditions(obj)
    if cond.get("Selected") == "True" and cond.get("AllInjected") == "True":
        return Injection(Phase.INJECTED)
    if cond.get("Selected") == "False":
        return Injection(Phase.NOT_SELECTED, record_failures(obj))
    return Injection(Phase.PENDING, record_failures(obj))


def is_terminating(obj: dict[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def describe_selector(spec: dict[str, Any]) -> str:
    """A one-line summary of a chaos spec's target selection, for messages."""
    sel = spec.get("selector") or {}
    parts = [f"mode {spec.get('mode', '?')}"]
    if spec.get("value"):
        parts.append(f"value {spec['value']}")
    for key in ("namespaces", "labelSelectors", "expressionSelectors", "pods"):
        if sel.get(key):
            parts.append(f"{key}={sel[key]}")
    return ", ".join(parts)
