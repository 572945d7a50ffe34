"""The one Kubernetes client wrapper: with its websocket half `runner.kube.exec`, the only
code that imports the `kubernetes` package.

`KubeClient` is built per target from a kubeconfig path + context, in-cluster
credentials, or a plain URL (tests). Every call goes through `_call`, which builds the
URL from a `Resource`, sends JSON, and translates `ApiException` and urllib3 transport
errors into `runner.kube.errors` once. Objects are plain dicts (no generated models):
the runner only reads a few fields and must pass Chaos Mesh manifests through unchanged.
`kubernetes` is imported lazily so `drillctl --help` never loads it.

Every answer is checked for what it must be before anyone reads it: JSON, an object of the
kind (and name) asked for, a list with `items`, a watch event. Anything else (an HTML login
page, a malformed Status, a JSON list) is a `KubeProtocolError`, never a traceback, and
never taken for success.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from runner.clock import Clock
from runner.errors import ConfigurationError
from runner.kube import errors
from runner.kube.answers import dropped_fields
from runner.kube.exec import OUTPUT_LIMIT, ExecResult, exec_in_pod
from runner.kube.resources import CRDS, SELF_SUBJECT_ACCESS_REVIEWS, Resource
from runner.scenario import model

log = logging.getLogger(__name__)

PatchType = Literal["merge", "json", "strategic"]
_PATCH_CONTENT = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
WatchEvent = tuple[str, dict[str, Any]]


class KubeClient:
    """Typed thin calls against one cluster; errors are `KubeError` subclasses naming it."""

    def __init__(self, api_client: Any, *, cluster: str, timeout: float = 30.0) -> None:
        self._api = api_client
        self.cluster = cluster
        self.timeout = timeout
        self._discovered: dict[tuple[str, str], Resource | None] = {}

    # ------------------------------------------------------------------ transport

    def _call(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        what: str,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
        stream: bool = False,
    ) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            m, url, hdrs, data, _ = self._api.param_serialize(
                method=method,
                resource_path=path,
                query_params=params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = self._api.call_api(
                m, url, header_params=hdrs, body=data, _request_timeout=timeout or self.timeout
            )
        except ApiException as e:
            raise errors.from_status(
                e.status or 0, e.body, cluster=self.cluster, verb=verb, what=what
            ) from None
        except HTTPError as e:
            if stream and _read_timeout(e):
                return None  # a watch that got no answer in time: no events, not an outage
            raise errors.unreachable(self.cluster, verb, what, e) from None
        if stream:
            if resp.status >= 300:
                raw = resp.read()
                raise errors.from_status(
                    resp.status, raw, cluster=self.cluster, verb=verb, what=what
                )
            return resp.response
        return self._json_answer(resp, method, path, verb=verb, what=what)

    def _json_answer(self, resp: Any, method: str, path: str, *, verb: str, what: str) -> Any:
        """The answer's JSON (None when empty); a status of 300 or more, an answer cut off
        or one that is not JSON is a located KubeError."""
        from urllib3.exceptions import HTTPError

        try:
            raw = resp.read()
        except HTTPError as e:
            raise errors.unreachable(self.cluster, verb, what, e) from None
        log.debug("%s %s -> %s", method, path, resp.status)
        if resp.status >= 300:
            raise errors.from_status(resp.status, raw, cluster=self.cluster, verb=verb, what=what)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise errors.not_kubernetes(
                self.cluster, verb, what, raw, resp.headers.get("Content-Type"), "not JSON"
            ) from None

    def _object(
        self, answer: Any, res: Resource, name: str | None, *, verb: str, what: str
    ) -> dict[str, Any]:
        """The answer if it is the object asked for: a mapping of the resource's kind (when it
        says one) and of the name asked for (when it says one)."""
        if not isinstance(answer, dict):
            raise self._unexpected(answer, verb, what, f"expected a {res.kind} object")
        kind = answer.get("kind")
        if kind is not None and kind != res.kind:
            raise self._unexpected(answer, verb, what, f"expected a {res.kind} object")
        got = (
            (answer.get("metadata") or {}).get("name")
            if isinstance(answer.get("metadata"), dict)
            else None
        )
        if name and got is not None and got != name:
            raise self._unexpected(answer, verb, what, f"expected {res.kind} {name!r}")
        return answer

    def _unexpected(
        self, answer: Any, verb: str, what: str, wanted: str
    ) -> errors.KubeProtocolError:
        if isinstance(answer, dict):
            shape = f"a {str(answer.get('kind') or 'mapping without a kind')[:60]}"
            meta = answer.get("metadata")
            named = meta.get("name") if isinstance(meta, dict) else None
            if isinstance(named, str):
                shape += f" named {named[:63]!r}"
        else:
            shape = f"a JSON {type(answer).__name__.replace('NoneType', 'null')}"
        return errors.KubeProtocolError(
            f"cluster {self.cluster!r}: {verb} {what}: the server's answer is not a Kubernetes "
            f"API response ({wanted}, got {shape}); check that the kubeconfig's server address "
            "is the API server itself",
            cluster=self.cluster,
        )

    @staticmethod
    def _what(res: Resource, name: str | None, namespace: str | None) -> str:
        text = f"{res.qualified} {name!r}" if name else res.qualified
        return f"{text} in namespace {namespace!r}" if namespace and res.namespaced else text

    # ------------------------------------------------------------------ verbs

    def create(
        self,
        res: Resource,
        obj: Mapping[str, Any],
        *,
        namespace: str | None,
        dry_run: bool = False,
        strict: bool = True,
    ) -> dict[str, Any]:
        """Create; `strict` makes unknown fields an error, `dry_run` stores nothing."""
        name = obj.get("metadata", {}).get("name")
        query = {
            "dryRun": "All" if dry_run else None,
            "fieldValidation": "Strict" if strict else None,
        }
        what = self._what(res, name, namespace)
        answer = self._call(
            "POST", res.path(namespace), verb="create", what=what, query=query, body=dict(obj)
        )
        return self._object(answer, res, name, verb="create", what=what)

    def create_checked(
        self,
        res: Resource,
        obj: Mapping[str, Any],
        *,
        namespace: str | None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Create with strict field validation, and prove the server kept every field sent.

        Kubernetes < 1.25 ignores `fieldValidation=Strict` and silently prunes the fields a
        CRD's schema does not know (a misspelled selector then selects more). The answer is
        compared with what was sent; `KubeDroppedFieldsError` names each field it lacks (the
        object exists then, unless `dry_run`: the caller must remove it)."""
        answer = self.create(res, obj, namespace=namespace, dry_run=dry_run)
        what = self._what(res, obj.get("metadata", {}).get("name"), namespace)
        if answer.get("kind") != res.kind:
            raise self._unexpected(answer, "create", what, f"expected the {res.kind} sent")
        dropped = tuple(dropped_fields(obj, answer))
        if dropped:
            raise errors.KubeDroppedFieldsError(
                f"cluster {self.cluster!r}: create {what}: the API server dropped field(s) it "
                f"does not know: {', '.join(dropped)} (this server ignores strict field "
                "validation; check the spelling against the CRD: a dropped selector field "
                "widens what the fault selects)",
                cluster=self.cluster,
                fields=dropped,
            )
        return answer

    def get(self, res: Resource, name: str, *, namespace: str | None) -> dict[str, Any]:
        what = self._what(res, name, namespace)
        answer = self._call("GET", res.path(namespace, name), verb="get", what=what)
        return self._object(answer, res, name, verb="get", what=what)

    def get_or_none(
        self, res: Resource, name: str, *, namespace: str | None
    ) -> dict[str, Any] | None:
        try:
            return self.get(res, name, namespace=namespace)
        except errors.KubeNotFoundError:
            return None

    def list(
        self, res: Resource, *, namespace: str | None = None, label_selector: str | None = None
    ) -> dict[str, Any]:
        """The whole list object (items plus metadata.resourceVersion, for a following watch)."""
        what = self._what(res, None, namespace)
        answer = self._call(
            "GET",
            res.path(namespace),
            verb="list",
            what=what,
            query={"labelSelector": label_selector},
        )
        items = answer.get("items") if isinstance(answer, dict) else None
        kind = answer.get("kind") if isinstance(answer, dict) else None
        if (
            not isinstance(answer, dict)
            or not isinstance(items, list | None)
            or (kind is not None and not str(kind).endswith("List"))
        ):
            raise self._unexpected(answer, "list", what, f"expected a {res.kind}List")
        if items is None:
            answer["items"] = []  # an empty list may omit `items`
        elif not all(isinstance(i, dict) for i in items):
            raise self._unexpected(answer, "list", what, f"expected {res.kind} objects in items")
        return answer

    def patch(
        self,
        res: Resource,
        name: str,
        patch: Any,
        *,
        namespace: str | None,
        patch_type: PatchType = "merge",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        what = self._what(res, name, namespace)
        answer = self._call(
            "PATCH",
            res.path(namespace, name),
            verb="patch",
            what=what,
            query={"dryRun": "All" if dry_run else None},
            body=patch,
            content_type=_PATCH_CONTENT[patch_type],
        )
        return self._object(answer, res, name, verb="patch", what=what)

    def replace(
        self,
        res: Resource,
        name: str,
        obj: Mapping[str, Any],
        *,
        namespace: str | None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PUT; carries metadata.resourceVersion, so a stale copy fails with a conflict."""
        what = self._what(res, name, namespace)
        answer = self._call(
            "PUT",
            res.path(namespace, name),
            verb="update",
            what=what,
            query={"dryRun": "All" if dry_run else None},
            body=dict(obj),
        )
        return self._object(answer, res, name, verb="update", what=what)

    def delete(
        self,
        res: Resource,
        name: str,
        *,
        namespace: str | None,
        dry_run: bool = False,
        resource_version: str | None = None,
    ) -> None:
        """Delete; with `resource_version`, only that version (409 if it changed since)."""
        body = None
        if resource_version is not None:
            body = {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "preconditions": {"resourceVersion": resource_version},
            }
        self._call(
            "DELETE",
            res.path(namespace, name),
            verb="delete",
            what=self._what(res, name, namespace),
            query={"dryRun": "All" if dry_run else None},
            body=body,
        )

    def watch(
        self,
        res: Resource,
        *,
        namespace: str | None,
        timeout: float,
        label_selector: str | None = None,
        name: str | None = None,
        resource_version: str | None = None,
    ) -> Iterator[WatchEvent]:
        """(type, object) events until `timeout` seconds pass without one (then it just ends)."""
        from urllib3.exceptions import HTTPError

        query = {
            "watch": "true",
            "labelSelector": label_selector,
            "fieldSelector": f"metadata.name={name}" if name else None,
            "resourceVersion": resource_version,
            "timeoutSeconds": str(max(1, int(timeout))),
            "allowWatchBookmarks": "false",
        }
        what = self._what(res, name, namespace)
        stream = self._call(
            "GET",
            res.path(namespace),
            verb="watch",
            what=what,
            query=query,
            timeout=(min(10.0, self.timeout), max(0.05, timeout)),
            stream=True,
        )
        if stream is None:
            return
        try:
            for line in stream:
                if not line.strip():
                    continue
                event = self._watch_event(line, what)
                if event is None:  # resourceVersion too old: caller re-lists
                    return
                if name and event[1].get("metadata", {}).get("name") != name:
                    continue
                yield event
        except HTTPError:
            return  # read timeout or the stream closed: the caller re-reads and re-watches
        finally:
            stream.close()  # never hand a half-read stream back to the pool
            stream.release_conn()

    def _watch_event(self, line: bytes, what: str) -> WatchEvent | None:
        """One line of a watch as (type, object); None for a 410 (the resourceVersion is too
        old). Anything else that is not a watch event, or an ERROR event, is a KubeError."""
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            raise errors.not_kubernetes(
                self.cluster, "watch", what, line, None, "a watch line that is not JSON"
            ) from None
        obj = event.get("object") if isinstance(event, dict) else None
        if not isinstance(obj, dict):
            raise self._unexpected(event, "watch", what, "expected a watch event")
        if event.get("type") == "ERROR":
            status = int(obj.get("code") or 500)
            if status == 410:
                return None
            raise errors.from_status(
                status, json.dumps(obj), cluster=self.cluster, verb="watch", what=what
            )
        return str(event.get("type")), obj

    # ------------------------------------------------------------------ special endpoints

    def can_i(self, verb: str, res: Resource, *, namespace: str | None) -> tuple[bool, str]:
        """SelfSubjectAccessReview: may this identity do `verb` on `res`? A plural such as
        `pods/exec` is checked as resource `pods`, subresource `exec`."""
        plural, _, subresource = res.plural.partition("/")
        attrs = {"verb": verb, "group": res.group, "resource": plural}
        if subresource:
            attrs["subresource"] = subresource
        if namespace and res.namespaced:
            attrs["namespace"] = namespace
        review = {
            "apiVersion": SELF_SUBJECT_ACCESS_REVIEWS.api_version,
            "kind": SELF_SUBJECT_ACCESS_REVIEWS.kind,
            "spec": {"resourceAttributes": attrs},
        }
        result = self.create(SELF_SUBJECT_ACCESS_REVIEWS, review, namespace=None, strict=False)
        status = result.get("status")
        if not isinstance(status, dict) or not isinstance(status.get("allowed", False), bool):
            raise self._unexpected(
                result, "create", "selfsubjectaccessreviews", "expected a review with a status"
            )
        return status.get("allowed") is True, str(status.get("reason") or "")

    def exec(
        self,
        pod: str,
        command: Sequence[str],
        *,
        namespace: str,
        container: str | None = None,
        timeout: float,
        clock: Clock,
        cancel: threading.Event | None = None,
        limit: int = OUTPUT_LIMIT,
    ) -> ExecResult:
        """Run `command` in a pod's container; see `runner.kube.exec` (errors, limits)."""
        return exec_in_pod(
            self._api.configuration,
            cluster=self.cluster,
            namespace=namespace,
            pod=pod,
            command=command,
            container=container,
            timeout=timeout,
            clock=clock,
            cancel=cancel,
            limit=limit,
        )

    def resource_of(self, api_version: str, kind: str) -> Resource | None:
        """The resource serving `kind` in `api_version`, found by discovery (so irregular
        plurals are right); None when the cluster does not serve it. Cached per client."""
        key = (api_version, kind)
        if key in self._discovered:
            return self._discovered[key]
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        what = f"API group/version {api_version}"
        try:
            answer = self._call("GET", path, verb="discover", what=what)
        except (errors.KubeCrdMissingError, errors.KubeNotFoundError):
            answer = {"resources": []}
        listed = answer.get("resources") if isinstance(answer, dict) else None
        if not isinstance(listed, list):
            raise self._unexpected(answer, "discover", what, "expected an APIResourceList")
        found = None
        for entry in listed:
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and "/" not in name and entry.get("kind") == kind:
                found = Resource(group, version, name, kind, bool(entry.get("namespaced")))
                break
        self._discovered[key] = found
        return found

    def crd(self, name: str) -> dict[str, Any] | None:
        """The CustomResourceDefinition `name` (e.g. `podchaos.chaos-mesh.org`), or None."""
        return self.get_or_none(CRDS, name, namespace=None)

    def close(self) -> None:
        self._api.close()


def _read_timeout(exc: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    return isinstance(exc, ReadTimeoutError) or isinstance(
        getattr(exc, "reason", None), ReadTimeoutError
    )


def client_from_url(url: str, *, cluster: str, timeout: float = 30.0) -> KubeClient:
    """A client for an unauthenticated API URL (tests, `kubectl proxy`)."""
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = url
    return KubeClient(client.ApiClient(cfg), cluster=cluster, timeout=timeout)


def client_for_target(
    target: model.KubernetesTarget, *, cluster: str, timeout: float = 30.0
) -> KubeClient:
    """A client from in-cluster credentials or a kubeconfig path + context."""
    from kubernetes import client, config

    cfg = client.Configuration()
    try:
        if target.in_cluster:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            path = os.path.expanduser(target.kubeconfig) if target.kubeconfig else None
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=target.context, client_configuration=cfg
            )
    except Exception as e:  # the loader raises whatever its YAML/dict access hits
        source = (
            "in-cluster service account"
            if target.in_cluster
            else f"kubeconfig {target.kubeconfig or '(default)'} context "
            f"{target.context or '(current)'}"
        )
        raise ConfigurationError(
            f"cluster {cluster!r}: cannot load Kubernetes credentials from {source}: "
            f"{_config_problem(e)}"
        ) from None
    return KubeClient(client.ApiClient(cfg), cluster=cluster, timeout=timeout)


def _config_problem(e: Exception) -> str:
    """Why a kubeconfig did not load, without quoting it (it holds credentials)."""
    import yaml

    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"not valid YAML ({e.problem or type(e).__name__}{where})"
    if isinstance(e, yaml.YAMLError):
        return "not valid YAML"
    if isinstance(e, OSError):
        return f"{type(e).__name__}: {e.strerror or 'cannot read it'}"
    if isinstance(e, TypeError | AttributeError | KeyError | IndexError):
        return "not a kubeconfig (expected a mapping with clusters, contexts and users)"
    return type(e).__name__
