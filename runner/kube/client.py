"""The one Kubernetes client wrapper: with its websocket half `runner.kube.exec`, the only
code that imports the `kubernetes` package.

`KubeClient` is built per target from a kubeconfig path + context, in-cluster
credentials, or a plain URL (tests). Every call goes through `_call`, which builds the
URL from a `Resource`, sends JSON, and translates `ApiException` and urllib3 transport
errors into `runner.kube.errors` once. Objects are plain dicts (no generated models):
the runner only reads a few fields and must pass Chaos Mesh manifests through unchanged.
`kubernetes` is imported lazily so `drillctl --help` never loads it.
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
        try:
            raw = resp.read()
        except HTTPError as e:
            raise errors.unreachable(self.cluster, verb, what, e) from None
        log.debug("%s %s -> %s", method, path, resp.status)
        if resp.status >= 300:
            raise errors.from_status(resp.status, raw, cluster=self.cluster, verb=verb, what=what)
        return json.loads(raw) if raw else None

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
        result: dict[str, Any] = self._call(
            "POST",
            res.path(namespace),
            verb="create",
            what=self._what(res, name, namespace),
            query=query,
            body=dict(obj),
        )
        return result

    def get(self, res: Resource, name: str, *, namespace: str | None) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "GET", res.path(namespace, name), verb="get", what=self._what(res, name, namespace)
        )
        return result

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
        result: dict[str, Any] = self._call(
            "GET",
            res.path(namespace),
            verb="list",
            what=self._what(res, None, namespace),
            query={"labelSelector": label_selector},
        )
        return result

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
        result: dict[str, Any] = self._call(
            "PATCH",
            res.path(namespace, name),
            verb="patch",
            what=self._what(res, name, namespace),
            query={"dryRun": "All" if dry_run else None},
            body=patch,
            content_type=_PATCH_CONTENT[patch_type],
        )
        return result

    def replace(
        self, res: Resource, name: str, obj: Mapping[str, Any], *, namespace: str | None
    ) -> dict[str, Any]:
        """PUT; carries metadata.resourceVersion, so a stale copy fails with a conflict."""
        result: dict[str, Any] = self._call(
            "PUT",
            res.path(namespace, name),
            verb="update",
            what=self._what(res, name, namespace),
            body=dict(obj),
        )
        return result

    def delete(
        self, res: Resource, name: str, *, namespace: str | None, dry_run: bool = False
    ) -> None:
        self._call(
            "DELETE",
            res.path(namespace, name),
            verb="delete",
            what=self._what(res, name, namespace),
            query={"dryRun": "All" if dry_run else None},
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
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    status = int(obj.get("code") or 500)
                    if status == 410:  # resourceVersion too old: caller re-lists
                        return
                    raise errors.from_status(
                        status, json.dumps(obj), cluster=self.cluster, verb="watch", what=what
                    )
                if name and obj.get("metadata", {}).get("name") != name:
                    continue
                yield str(event.get("type")), obj
        except HTTPError:
            return  # read timeout or the stream closed: the caller re-reads and re-watches
        finally:
            stream.close()  # never hand a half-read stream back to the pool
            stream.release_conn()

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
        status = result.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

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
    except (config.ConfigException, OSError, ValueError, TypeError) as e:
        source = (
            "in-cluster service account"
            if target.in_cluster
            else f"kubeconfig {target.kubeconfig or '(default)'} context "
            f"{target.context or '(current)'}"
        )
        raise ConfigurationError(
            f"cluster {cluster!r}: cannot load Kubernetes credentials from {source}: "
            f"{type(e).__name__}"
        ) from None
    return KubeClient(client.ApiClient(cfg), cluster=cluster, timeout=timeout)
