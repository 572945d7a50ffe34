"""The Kubernetes steps that read and compare object fields: `wait-for` (field conditions,
`failWhen`), `capture` (values for later steps and measurements) and `list-item` (an item
in a list field, read-modify-write).

`wait-for` reads the object, then watches it, until every condition holds; a `failWhen`
condition that holds fails the step at once (a Velero restore that ends `PartiallyFailed`
need not wait out its timeout). On timeout the error names each condition and the value
last seen, so a drill that stalls says where. `capture` of a selection takes the newest
object (by a time or number field) among those that meet `where`; a selection that
matches nothing fails the step with what was found. `list-item` writes back with the
resourceVersion it read (PUT), so a concurrent change is a conflict, re-read and retried.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from typing import Any

from runner import backends, redact
from runner.clock import Clock
from runner.errors import StepError
from runner.kube.client import KubeClient
from runner.kube.errors import KubeConflictError
from runner.kube.resources import Resource
from runner.scenario import conditions, model

WATCH_SLICE = 2.0
"""Longest single watch; the object is read again after each."""
CONFLICT_RETRIES = 5
Resolve = Callable[[str, str | None], Resource]


def legacy_conditions(step: model.WaitForStep) -> list[conditions.Condition]:
    """`condition: Ready` and `field` + `equals` as field conditions, plus `conditions`."""
    out = list(step.conditions)
    if step.condition is not None:
        out.insert(
            0,
            conditions.parse_condition(
                f'status.conditions[type="{step.condition}"].status == True'
            ),
        )
    if step.field is not None:
        out.append(
            conditions.Condition(
                text=f"{step.field} == {step.equals}",
                clauses=(
                    conditions.Clause(
                        conditions.parse_path(step.field),
                        "==",
                        conditions.Operand(literals=(str(step.equals),)),
                    ),
                ),
            )
        )
    return out


def wait_for(
    client: KubeClient,
    step: model.WaitForStep,
    res: Resource,
    ns: str | None,
    what: str,
    *,
    clock: Clock,
    cancel: threading.Event,
) -> backends.StepResult:
    """Wait until `step`'s object meets every condition; StepError on `failWhen` or timeout."""
    wanted = legacy_conditions(step)
    timeout = step.timeout.total_seconds()
    deadline = clock.monotonic() + timeout
    last: dict[str, Any] | None = None

    def verdict(obj: dict[str, Any] | None) -> backends.StepResult | None:
        if obj is None:
            return None
        for bad in step.fail_when:
            if bad.holds(obj):
                raise StepError(f"{what} meets the failure condition {bad} ({bad.seen(obj)})")
        if all(c.holds(obj) for c in wanted):
            seen = "; ".join(c.seen(obj) for c in wanted)
            return backends.StepResult(
                output=f"{what} is ready" + (f" ({seen})" if seen else ""),
                details={"seen": seen, "resourceVersion": _rv(obj)},
            )
        return None

    for _ in range(math.ceil(timeout / WATCH_SLICE) + 2):
        last = client.get_or_none(res, step.target.name, namespace=ns)
        done = verdict(last)
        if done is not None:
            return done
        remaining = deadline - clock.monotonic()
        if remaining <= 0 or cancel.is_set():
            break
        for kind, changed in client.watch(
            res,
            namespace=ns,
            name=step.target.name,
            resource_version=_rv(last) if last is not None else None,
            timeout=min(WATCH_SLICE, remaining),
        ):
            last = None if kind == "DELETED" else changed
            done = verdict(last)
            if done is not None:
                return done
    if cancel.is_set():
        raise StepError(f"interrupted while waiting for {what}")
    if not wanted:
        raise StepError(f"{what} did not appear within {timeout:g}s")
    pending = [c for c in wanted if last is None or not c.holds(last)] or wanted
    seen = "; ".join(dict.fromkeys(c.seen(last) for c in pending))
    raise StepError(
        f"{what} did not reach {' and '.join(map(str, pending))} within "
        f"{timeout:g}s (last seen: {seen})"
    )


def _rv(obj: dict[str, Any]) -> str | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return str(rv) if rv is not None else None


# --------------------------------------------------------------------------- capture


def capture(
    client: KubeClient, step: model.CaptureStep, resolve: Resolve, namespace: str
) -> backends.StepResult:
    """Read the values of the named object, or of the newest selected one."""
    if step.target is not None:
        ref = step.target
        res = resolve(ref.kind, ref.api_version)
        ns = (ref.namespace or namespace) if res.namespaced else None
        what = f"{ref.kind} {ns + '/' if ns else ''}{ref.name}"
        obj = client.get(res, ref.name, namespace=ns)
    else:
        assert step.select is not None
        obj, what = newest(client, step.select, resolve, namespace)
    values: dict[str, str] = {}
    for name, path in step.values.items():
        found = path.values(obj)
        if not found and name in step.defaults:
            values[name] = step.defaults[name]
            continue
        if not found:
            raise StepError(f"{what} has no {path} (to capture as {name})")
        values[name] = _text(found[0] if len(found) == 1 else found)
    shown = ", ".join(
        f"{k} = {redact.REDACTED if redact.names_a_secret(k) else v[:80]}"
        for k, v in values.items()
    )
    return backends.StepResult(
        output=f"captured from {what}: {shown}", details={"object": what}, captured=values
    )


def newest(
    client: KubeClient,
    select: model.Selection,
    resolve: Resolve,
    namespace: str,
) -> tuple[dict[str, Any], str]:
    """The selected object whose `select.newest` is the latest, and how to name it."""
    res = resolve(select.kind, select.api_version)
    ns = (select.namespace or namespace) if res.namespaced else None
    items = matching(client, select, res, ns)
    where = f"{select.kind} in {ns}" if ns else select.kind
    labels = ",".join(f"{k}={v}" for k, v in sorted(select.labels.items()))
    described = f"{where}" + (f" labelled {labels}" if labels else "")
    if not items:
        wanted = " and ".join(str(c) for c in select.where) or "any"
        raise StepError(f"no {described} meets {wanted}")
    assert select.newest is not None
    order = select.newest

    def key(obj: dict[str, Any]) -> tuple[int, Any]:
        found = order.values(obj)
        value = conditions.parse_time(str(found[0])) if found else None
        if value is not None:
            return (2, value.timestamp())
        if found and isinstance(found[0], int | float) and not isinstance(found[0], bool):
            return (1, float(found[0]))
        return (0, 0.0)

    best = max(items, key=key)
    if key(best)[0] == 0:
        raise StepError(f"no {described} that matches has a time or number at {order}")
    name = (best.get("metadata") or {}).get("name")
    return best, f"{select.kind} {ns + '/' if ns else ''}{name}"


def matching(
    client: KubeClient, select: model.Selection, res: Resource, ns: str | None
) -> list[dict[str, Any]]:
    """The objects of a selection that meet every `where` condition."""
    labels = ",".join(f"{k}={v}" for k, v in sorted(select.labels.items())) or None
    items = client.list(res, namespace=ns, label_selector=labels).get("items") or []
    return [o for o in items if isinstance(o, dict) and all(c.holds(o) for c in select.where)]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------- list-item


def list_item(
    client: KubeClient, step: model.ListItemStep, res: Resource, ns: str | None, what: str
) -> backends.StepResult:
    """Ensure the matching item is present (as `item`) or absent, writing back with the
    resourceVersion read; idempotent, retried on a conflict."""
    keys = [s.key for s in step.path.segments if s.key is not None]
    for _ in range(CONFLICT_RETRIES):
        obj = client.get(res, step.target.name, namespace=ns)
        parent: Any = obj
        for key in keys[:-1]:
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            parent = parent[key]
        items = parent.get(keys[-1])
        if items is not None and not isinstance(items, list):
            raise StepError(f"{step.path} of {what} is not a list")
        items = list(items or [])
        kept = [i for i in items if not _matches(i, step.match)]
        wanted = kept if step.remove else [*kept, step.item]
        if _same_items(wanted, items):
            state = "absent from" if step.remove else "already in"
            return backends.StepResult(output=f"the item is {state} {step.path} of {what}")
        parent[keys[-1]] = wanted
        try:
            client.replace(res, step.target.name, obj, namespace=ns)
        except KubeConflictError:
            continue  # changed since we read it: read again
        done = "removed from" if step.remove else "set in"
        return backends.StepResult(output=f"the item is {done} {step.path} of {what}")
    raise StepError(f"{what} kept changing; gave up after {CONFLICT_RETRIES} conflicts")


def _matches(item: Any, match: dict[str, Any]) -> bool:
    return isinstance(item, dict) and all(item.get(k) == v for k, v in match.items())


def _same_items(a: list[Any], b: list[Any]) -> bool:
    return sorted(_text(i) for i in a) == sorted(_text(i) for i in b)
