"""Kubernetes failures become actionable KubeError subclasses that never carry a token."""

from __future__ import annotations

import socket

import pytest

from runner.kube import errors
from runner.kube.client import KubeClient, client_from_url
from runner.kube.resources import LEASES, chaos_resource
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.kube.conftest import NS

NC = chaos_resource("NetworkChaos")
BODY = {
    "apiVersion": "chaos-mesh.org/v1alpha1",
    "kind": "NetworkChaos",
    "metadata": {"name": "n1"},
    "spec": {"action": "partition", "mode": "all", "selector": {"namespaces": ["db"]}},
}


def test_forbidden_names_verb_and_resource(emulator: KubeEmulatorThread, kube: KubeClient) -> None:
    emulator.call(lambda h: h.denied.add(("create", "networkchaos")))
    with pytest.raises(errors.KubeForbiddenError) as e:
        kube.create(NC, BODY, namespace=NS)
    assert e.value.status == 403 and e.value.cluster == "east"
    assert "grant verb 'create' on networkchaos.chaos-mesh.org 'n1' in namespace" in str(e.value)


def test_not_found_conflict_and_crd_missing(kube: KubeClient) -> None:
    with pytest.raises(
        errors.KubeNotFoundError, match=r'networkchaos.chaos-mesh.org "x" not found'
    ):
        kube.get(NC, "x", namespace=NS)
    kube.create(NC, BODY, namespace=NS)
    with pytest.raises(errors.KubeConflictError, match="already exists") as e:
        kube.create(NC, BODY, namespace=NS)
    assert e.value.status == 409
    with pytest.raises(errors.KubeCrdMissingError, match="is the CRD installed"):
        kube.list(chaos_resource("NoSuchChaos"), namespace=NS)


def test_stale_resource_version_is_a_conflict(kube: KubeClient) -> None:
    lease = kube.create(
        LEASES,
        {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}},
        namespace=NS,
        strict=False,
    )
    kube.replace(LEASES, "l", {**lease, "spec": {"holderIdentity": "b"}}, namespace=NS)
    with pytest.raises(errors.KubeConflictError, match="has been modified"):
        kube.replace(LEASES, "l", {**lease, "spec": {"holderIdentity": "c"}}, namespace=NS)


def test_invalid_and_strict_fields_give_field_causes(kube: KubeClient) -> None:
    bad = {**BODY, "spec": {"mode": "all", "selector": {"labelSelector": {"a": "b"}}}}
    with pytest.raises(
        errors.KubeInvalidError, match=r'unknown field "spec.selector.labelSelector"'
    ):
        kube.create(NC, bad, namespace=NS, dry_run=True)
    with pytest.raises(errors.KubeInvalidError) as e:
        kube.create(NC, bad, namespace=NS, dry_run=True, strict=False)
    assert "spec: 'action' is a required property" in e.value.causes


def test_webhook_down(emulator: KubeEmulatorThread, kube: KubeClient) -> None:
    emulator.call(lambda h: setattr(h, "webhook_down", True))
    with pytest.raises(errors.KubeWebhookError, match="controller-manager running"):
        kube.create(NC, BODY, namespace=NS)


def test_connection_refused_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = client_from_url(f"http://127.0.0.1:{port}", cluster="gone", timeout=2)
    with pytest.raises(errors.KubeUnreachableError, match=r"cluster 'gone'.*unreachable"):
        client.get(NC, "x", namespace=NS)


def test_token_never_in_messages(emulator: KubeEmulatorThread) -> None:
    from kubernetes import client as k8s

    cfg = k8s.Configuration()
    cfg.host = emulator.url
    cfg.api_key = {"authorization": "s3cr3t-token"}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    kube = KubeClient(k8s.ApiClient(cfg), cluster="east")
    emulator.call(lambda h: h.denied.add(("get", "networkchaos")))
    for call in (
        lambda: kube.get(NC, "x", namespace=NS),
        lambda: kube.get(LEASES, "x", namespace=NS),
    ):
        with pytest.raises(errors.KubeError) as e:
            call()
        assert "s3cr3t" not in str(e.value) and "s3cr3t" not in repr(e.value.args)
    sent = emulator.call(lambda h: [r.headers.get("Authorization") for r in h.request_log])
    assert "Bearer s3cr3t-token" in sent  # the token was really sent, just never echoed
