"""Preflight object checks (`spec.preflight`, mostly added by recipes): before anything is
injected, each named object exists and meets its conditions, or some object of a selection
does. Every failure is one line saying what is missing and what to do (the check's hint),
so a drill against a cluster without Velero, or with a misspelled Application, is refused
before the fault, not half-way through the failover."""

from __future__ import annotations

from collections.abc import Callable

from runner.chaosmesh.object_steps import matching
from runner.errors import KubeError, StepError
from runner.kube.client import KubeClient
from runner.kube.errors import KubeCrdMissingError, KubeForbiddenError, KubeNotFoundError
from runner.kube.resources import Resource
from runner.scenario import model

Resolve = Callable[[str, str | None], Resource]


def check_objects(
    client: KubeClient,
    *,
    cluster: str,
    namespace: str,
    checks: list[model.ObjectCheck],
    resolve: Resolve,
) -> list[str]:
    """What the checks of this cluster find missing (empty: every check holds)."""
    missing: list[str] = []
    for check in checks:
        if check.cluster != cluster:
            continue
        problem = _check(client, check, namespace, resolve)
        if problem is not None:
            hint = f" ({check.hint})" if check.hint else ""
            missing.append(f"check {check.name!r}: {problem}{hint}")
    return missing


def _check(
    client: KubeClient, check: model.ObjectCheck, namespace: str, resolve: Resolve
) -> str | None:
    ref = check.target
    kind, api_version = (ref.kind, ref.api_version) if ref else _sel(check)
    try:
        res = resolve(kind, api_version)
    except StepError as e:
        return str(e)
    served = f"{kind} ({res.api_version})"
    try:
        if ref is not None:
            ns = (ref.namespace or namespace) if res.namespaced else None
            what = f"{kind} {ns}/{ref.name}" if ns else f"{kind} {ref.name}"
            obj = client.get(res, ref.name, namespace=ns)
            failing = [c for c in check.conditions if not c.holds(obj)]
            if failing:
                seen = "; ".join(dict.fromkeys(c.seen(obj) for c in failing))
                wanted = " and ".join(str(c) for c in failing)
                return f"{what} does not meet {wanted} (seen: {seen})"
            return None
        assert check.select is not None
        sel = check.select
        ns = (sel.namespace or namespace) if res.namespaced else None
        sel_with = sel.model_copy(update={"where": [*sel.where, *check.conditions]})
        if matching(client, sel_with, res, ns):
            return None
        labels = ",".join(f"{k}={v}" for k, v in sorted(sel.labels.items()))
        where = " and ".join(str(c) for c in sel_with.where) or "any"
        place = f" in namespace {ns!r}" if ns else ""
        return f"no {kind}{place}" + (f" labelled {labels}" if labels else "") + f" meets {where}"
    except KubeCrdMissingError:
        return f"{served} is not served by cluster {client.cluster!r}: is its CRD installed?"
    except KubeNotFoundError:
        return f"{what} does not exist on cluster {client.cluster!r}"
    except KubeForbiddenError as e:
        return f"RBAC: cannot read it: {e}"
    except KubeError as e:
        return str(e)


def _sel(check: model.ObjectCheck) -> tuple[str, str | None]:
    assert check.select is not None
    return check.select.kind, check.select.api_version
