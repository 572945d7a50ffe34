"""A stateful fake kube-apiserver for tests: kmock 0.8 plus what kmock lacks.

`DrillKubeEmulator` (after the infrastructure spike) adds: 201 on create, uid /
resourceVersion / creationTimestamp, resourceVersion preconditions (409 Conflict),
PUT, label selectors on list and watch, `kind` on lists, realistic 404/409 Status
bodies (and a plain-text 404 for unknown resources, as for a missing CRD),
`dryRun=All` (validated, never stored), CRD schema checks (422 with field causes),
`fieldValidation=Strict` (400 naming unknown fields), a tiny RBAC (denied verbs → 403
and SelfSubjectAccessReview answers), and a "Chaos Mesh webhook down" switch.

`KubeEmulatorThread` runs it on its own event loop in a daemon thread, so sync
clients can call it from sync tests (a sync client inside the server's loop deadlocks).
It relies on kmock private modules: kmock is pinned to 0.8 and this file has its own test.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import functools
import itertools
import json
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp.web
import jsonschema
import kmock
import yaml
from kmock._internal import aiobus, enums, rendering

from tests.infra.loop_thread import LoopThread
from tests.infra.upstream import CRDS

CRD_DIR = CRDS
KINDS = {
    "leases": "Lease",
    "pods": "Pod",
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "jobs": "Job",
    "configmaps": "ConfigMap",
    "services": "Service",
    "networkpolicies": "NetworkPolicy",
}
"""Kinds of the built-in resources a test may serve (discovery answers with them)."""
_VERBS = {
    enums.action.CREATE: "create",
    enums.action.FETCH: "get",
    enums.action.LIST: "list",
    enums.action.WATCH: "watch",
    enums.action.UPDATE: "patch",
    enums.action.DELETE: "delete",
}


def match_labels(selector: str | None, labels: dict[str, str] | None) -> bool:
    """Equality-based label selectors: k=v, k==v, k!=v, k, !k (comma = AND)."""
    if not selector:
        return True
    labels = labels or {}
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            k, v = (s.strip() for s in term.split("!=", 1))
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def unknown_fields(obj: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of keys the structural schema does not declare (what Strict validation rejects)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else key
            if props is not None and key in props:
                found += unknown_fields(value, props[key], sub)
            elif isinstance(extra, dict):
                found += unknown_fields(value, extra, sub)
            elif props is not None and not (path == "" and key in ("apiVersion", "kind")):
                found.append(sub)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


@functools.lru_cache(maxsize=4)
def _crds(crd_dir: Path) -> str:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = [yaml.load(p.read_text(), Loader=loader) for p in sorted(crd_dir.glob("*.yaml"))]
    return json.dumps(docs)


def load_crds(crd_dir: Path = CRD_DIR) -> list[dict[str, Any]]:
    """The upstream Chaos Mesh CRD objects (parsed once per process; fresh copies each call)."""
    docs: list[dict[str, Any]] = json.loads(_crds(crd_dir))
    return docs


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str, **details: Any) -> aiohttp.web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    body.update(code=code, reason=reason, message=message, details=details)
    return aiohttp.web.json_response(body, status=code)


class _LoggedBus(aiobus.Bus[Any]):
    """A watch bus that gives every event a fresh resourceVersion and keeps a replay log."""

    def __init__(self, log: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self.log = log

    async def put(self, *items: Any) -> None:
        for item in items:
            self.log(item)
        await super().put(*items)


class _Buses(dict[Any, _LoggedBus]):
    def __init__(self, emulator: DrillKubeEmulator) -> None:
        super().__init__()
        self.emulator = emulator

    def __missing__(self, resource: Any) -> _LoggedBus:
        bus = self[resource] = _LoggedBus(lambda e: self.emulator._record(resource, e))
        return bus


class DrillKubeEmulator(kmock.KubernetesEmulator):
    """kmock's emulator made close enough to a kube-apiserver for drill-runner's client."""

    _rv = itertools.count(1)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.schemas: dict[str, dict[str, Any]] = {}
        """'group/version/plural' -> openAPIV3Schema, checked on create (422 / Strict 400)."""
        self.denied: set[tuple[str, str]] = set()
        """(verb, plural) pairs the caller may not do: 403, and SSAR says allowed=False."""
        self.webhook_down = False
        """Chaos Mesh controller gone: creates/updates of chaos-mesh.org objects fail (500)."""
        self.user = "system:serviceaccount:chaos-drills:drill-runner"
        self.request_log: collections.deque[rendering.Request] = collections.deque(maxlen=1000)
        self.namespace_objects: dict[str, dict[str, Any]] = {}
        """Namespace objects by name (kmock cannot route /api/v1/namespaces/NAME itself)."""
        self.events: list[tuple[int, Any, dict[str, Any]]] = []
        """(resourceVersion, resource, event): replayed to watches that give a resourceVersion."""
        self._buses = _Buses(self)

    def _record(self, resource: Any, event: dict[str, Any]) -> None:
        # Every change bumps the object's resourceVersion, as on a real API server.
        seq = next(self._rv)
        meta = event.get("object", {}).get("metadata")
        if isinstance(meta, dict):
            meta["resourceVersion"] = str(seq)
        self.events.append((seq, resource, event))

    # ------------------------------------------------------------------ set-up helpers

    def add_namespace(self, name: str, annotations: dict[str, str] | None = None) -> None:
        meta = {"name": name, "annotations": dict(annotations or {}), "uid": str(uuid.uuid4())}
        self.namespace_objects[name] = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}

    def add_crd(self, crd: dict[str, Any], *, serve: bool = True) -> None:
        """Store the CRD object; with `serve`, declare its kind and check its schema."""
        spec = crd["spec"]
        version = next(v for v in spec["versions"] if v.get("served", True))
        key = f"{spec['group']}/{version['name']}/{spec['names']['plural']}"
        crds = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self.objects[crds, None, crd["metadata"]["name"]] = crd
        if serve:
            self.resources[key] = kmock.ResourceInfo(
                kind=spec["names"]["kind"], namespaced=spec["scope"] == "Namespaced"
            )
            self.schemas[key] = version["schema"]["openAPIV3Schema"]

    # ------------------------------------------------------------------ request handling

    def _key(self, request: rendering.Request) -> str:
        res = request.resource
        assert res is not None
        return (
            f"{res.group}/{res.version}/{res.plural}"
            if res.group
            else f"{res.version}/{res.plural}"
        )

    def _stamp(self, body: dict[str, Any], request: rendering.Request) -> None:
        meta = body.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._rv))
        if request.namespace and not meta.get("namespace"):
            meta["namespace"] = request.namespace

    def _existing(self, request: rendering.Request, name: str | None = None) -> Any:
        key = (request.resource, request.namespace, name or request.name)
        if key in self._objects and not self._objects[key].deleted:
            return self._objects[key]
        return None

    def _known(self, request: rendering.Request) -> bool:
        return any(r == request.resource for r in self._get_resources())

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        # kmock matches every request against its whole request history (quadratic): keep
        # the history short; `request_log` keeps the recent requests for assertions.
        self.request_log.append(request)
        if len(self._requests) > 20:
            del self._requests[:-20]
        res0 = request.resource
        if res0 is not None and res0.group == "" and res0.plural is None and request.namespace:
            # kmock parses /api/v1/namespaces/NAME as "namespace NAME": serve Namespaces here.
            ns = self.namespace_objects.get(request.namespace)
            if request.method != enums.method.GET or request.url.path.count("/") != 4:
                return aiohttp.web.Response(status=404, text="404 page not found\n")
            if ns is None:
                return _status(
                    404,
                    "NotFound",
                    f'namespaces "{request.namespace}" not found',
                    name=request.namespace,
                    kind="namespaces",
                )
            return aiohttp.web.json_response(ns)
        if request.resource is None or request.resource.plural is None:
            return await super()._handle(request)
        res = request.resource
        plural = res.plural or ""
        verb = "update" if request.method == enums.method.PUT else _VERBS.get(request.action, "")
        if plural == "selfsubjectaccessreviews":
            return self._review(request)
        if (verb, plural) in self.denied:
            where = f' in the namespace "{request.namespace}"' if request.namespace else ""
            return _status(
                403,
                "Forbidden",
                f'{plural}.{res.group} is forbidden: User "{self.user}" cannot {verb} resource '
                f'"{plural}" in API group "{res.group}"{where}',
                group=res.group,
                kind=plural,
                name=request.name or "",
            )
        if not self._known(request):
            return aiohttp.web.Response(status=404, text="404 page not found\n")
        gk = f"{plural}.{res.group}" if res.group else plural
        if self.webhook_down and res.group == "chaos-mesh.org" and verb in ("create", "update"):
            return _status(
                500,
                "InternalError",
                f'Internal error occurred: failed calling webhook "m{plural}.kb.io": failed to '
                'call webhook: Post "https://chaos-mesh-controller-manager.chaos-mesh.svc:443/'
                'mutate-chaos-mesh-org-v1alpha1-x?timeout=5s": service '
                '"chaos-mesh-controller-manager" not found',
            )
        if verb == "patch" and self.webhook_down and res.group == "chaos-mesh.org":
            return _status(500, "InternalError", f'failed calling webhook "v{plural}.kb.io"')
        name = request.name
        if verb == "create" and isinstance(request.data, dict):
            name = request.data.get("metadata", {}).get("name")
        if verb in ("get", "patch", "update", "delete") and self._existing(request) is None:
            return _status(
                404, "NotFound", f'{gk} "{name}" not found', name=name, group=res.group, kind=plural
            )
        if verb == "create":
            if (err := self._validate(request)) is not None:
                return err
            if self._existing(request, name) is not None:
                return _status(
                    409, "AlreadyExists", f'{gk} "{name}" already exists', name=name, kind=plural
                )
        if verb in ("patch", "update") and isinstance(request.data, dict):
            want = request.data.get("metadata", {}).get("resourceVersion")
            have = self._existing(request).raw.get("metadata", {}).get("resourceVersion")
            if want is not None and want != have:
                return _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {gk} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    name=name,
                    kind=plural,
                )
        if request.params.get("dryRun") == "All":
            return self._dry_run(request, verb)
        if verb == "create" and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["creationTimestamp"] = _now()
            self._stamp(request.data, request)
        elif verb == "patch" and isinstance(request.data, dict):
            self._stamp(request.data, request)
        elif verb == "update":
            return await self._replace(request)
        resp = await super()._handle(request)
        if verb == "create" and resp.status == 200:
            resp.set_status(201)
        return resp

    def _validate(self, request: rendering.Request) -> aiohttp.web.Response | None:
        schema = self.schemas.get(self._key(request))
        if schema is None or not isinstance(request.data, dict):
            return None
        kind = request.data.get("kind", "")
        name = request.data.get("metadata", {}).get("name", "")
        if request.params.get("fieldValidation") == "Strict":
            unknown = unknown_fields(request.data, schema)
            if unknown:
                text = ", ".join(f'unknown field "{u}"' for u in unknown)
                return _status(
                    400, "BadRequest", f"{kind} in version failed: strict decoding error: {text}"
                )
        validator = jsonschema.Draft7Validator(schema)
        causes = [
            {
                "reason": "FieldValueInvalid",
                "message": e.message,
                "field": ".".join(str(p) for p in e.absolute_path),
            }
            for e in validator.iter_errors(request.data)
        ]
        if not causes:
            return None
        text = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
        return _status(
            422,
            "Invalid",
            f'{kind}.{request.resource.group} "{name}" is invalid: {text}',  # type: ignore[union-attr]
            name=name,
            kind=kind,
            causes=causes,
        )

    def _dry_run(self, request: rendering.Request, verb: str) -> aiohttp.web.Response:
        if verb == "create":
            body = dict(request.data)
            body["metadata"] = {**body.get("metadata", {}), "uid": str(uuid.uuid4())}
            body["metadata"].setdefault("namespace", request.namespace)
            return aiohttp.web.json_response(body, status=201)
        current = self._existing(request).raw
        return aiohttp.web.json_response(current)

    def _review(self, request: rendering.Request) -> aiohttp.web.Response:
        body = dict(request.data or {})
        attrs = body.get("spec", {}).get("resourceAttributes", {})
        allowed = (attrs.get("verb"), attrs.get("resource")) not in self.denied
        body["status"] = {"allowed": allowed, "reason": "" if allowed else "denied by test RBAC"}
        return aiohttp.web.json_response(body, status=201)

    async def _replace(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        body = dict(request.data)
        async with self._lock:
            obj = self._existing(request)
            cur = obj.raw
            if request.subresource == "status":
                new = {**cur, "status": body.get("status")}
            else:
                keep = ("uid", "creationTimestamp", "namespace", "name")
                meta = {k: v for k, v in cur.get("metadata", {}).items() if k in keep}
                new = {**body, "metadata": {**meta, **body.get("metadata", {})}}
            self._stamp(new, request)
            obj.create(new)
            raw = obj.raw
            await self._buses[request.resource].put({"type": "MODIFIED", "object": raw})
        return aiohttp.web.json_response(raw)

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        result: dict[str, Any] = await super()._serve_list(request)  # type: ignore[assignment]
        sel = request.params.get("labelSelector")
        result["items"] = [
            i for i in result["items"] if match_labels(sel, i.get("metadata", {}).get("labels"))
        ]
        result["metadata"]["resourceVersion"] = str(next(self._rv))
        res = request.resource
        assert res is not None
        info = self.resources.get(res, None)
        kind = info.kind if info and info.kind else (res.plural or "").capitalize()
        result.setdefault("apiVersion", f"{res.group}/{res.version}" if res.group else res.version)
        result.setdefault("kind", f"{kind}List")
        return result

    async def _serve_watch(self, request: rendering.Request) -> Any:
        """Watch without losing events: subscribe first, then list (or replay), then stream.

        kmock 0.8 lists before subscribing, so events between the two were lost.
        """
        sel = request.params.get("labelSelector")

        def wanted(event: Any) -> bool:
            meta = event.get("object", {}).get("metadata", {}) if isinstance(event, dict) else {}
            if request.namespace and meta.get("namespace") != request.namespace:
                return False
            return match_labels(sel, meta.get("labels"))

        yield b""  # headers out
        bus = self._buses[request.resource]
        mark = await bus.mark()
        try:
            since = request.params.get("resourceVersion")
            if since and since.isdigit():  # replay what happened after `since`
                last = int(since)
                backlog = [
                    e for seq, res, e in self.events if res == request.resource and seq > last
                ]
            else:  # the current objects as ADDED
                last = self.events[-1][0] if self.events else 0
                backlog = [
                    {"type": "ADDED", "object": obj.raw}
                    for (res, _ns, _name), obj in self._objects.items()
                    if res == request.resource and not obj.deleted
                ]
            for event in backlog:
                if wanted(event):
                    yield event
            async for event in bus.stream(since=mark):
                rv = event.get("object", {}).get("metadata", {}).get("resourceVersion", "0")
                if int(rv) > last and wanted(event):
                    yield event
        finally:
            await bus.unmark(mark)


class KubeEmulatorThread(LoopThread):
    """Runs a `DrillKubeEmulator` on 127.0.0.1 (free port) in a daemon thread."""

    def __init__(self, *, crds: Iterable[dict[str, Any]] = (), extra: Iterable[str] = ()) -> None:
        super().__init__("kube-emulator")
        self._crds = list(crds)
        self._extra = list(extra)
        self.handler: DrillKubeEmulator

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with DrillKubeEmulator() as handler, kmock.Server(handler, host="127.0.0.1") as srv:
            for crd in self._crds:
                handler.add_crd(crd)
            for res in ["coordination.k8s.io/v1/leases", "v1/pods", *self._extra]:
                kind = KINDS.get(res.rsplit("/", 1)[-1])
                handler.resources[res] = kmock.ResourceInfo(kind=kind, namespaced=True)
            handler.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = (
                kmock.ResourceInfo(kind="CustomResourceDefinition", namespaced=False)
            )
            handler.resources["authorization.k8s.io/v1/selfsubjectaccessreviews"] = (
                kmock.ResourceInfo(kind="SelfSubjectAccessReview", namespaced=False)
            )
            self.handler, self.url = handler, str(srv.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in others:
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    def call(self, fn: Callable[[DrillKubeEmulator], Any]) -> Any:
        """Run fn(handler) in the server's loop: thread-safe set-up and server-side assertions."""

        async def _call() -> Any:
            return fn(self.handler)

        return asyncio.run_coroutine_threadsafe(_call(), self._loop).result(5)
