"""The DrillKubeEmulator subclass itself, exercised with the official client (pins kmock 0.8)."""

from __future__ import annotations

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.exceptions import ApiException

from tests.infra.kube_emulator import KubeEmulatorThread, match_labels, unknown_fields

G, V, P = "chaos-mesh.org", "v1alpha1", "networkchaos"
NS = "d"


def body(name: str, **labels: str) -> dict:
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "NetworkChaos",
        "metadata": {"name": name, "labels": labels},
        "spec": {"action": "partition", "mode": "all", "selector": {"namespaces": ["db"]}},
    }


@pytest.fixture
def api(emulator: KubeEmulatorThread):  # type: ignore[no-untyped-def]
    cfg = client.Configuration()
    cfg.host = emulator.url
    with client.ApiClient(cfg) as c:
        yield c


def test_create_returns_201_with_server_fields_and_selectors_filter(api) -> None:  # type: ignore[no-untyped-def]
    co = client.CustomObjectsApi(api)
    made = co.create_namespaced_custom_object(G, V, NS, P, body("a", run="1"))
    assert made["metadata"]["uid"] and made["metadata"]["resourceVersion"]
    assert made["metadata"]["creationTimestamp"].endswith("Z")
    co.create_namespaced_custom_object(G, V, NS, P, body("b", run="2"))
    listed = co.list_namespaced_custom_object(G, V, NS, P, label_selector="run=1")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    assert listed["kind"] == "NetworkChaosList"
    assert len(co.list_namespaced_custom_object(G, V, NS, P, label_selector="run!=1")["items"]) == 1
    dyn = dynamic.DynamicClient(api)
    res = dyn.resources.get(api_version=f"{G}/{V}", kind="NetworkChaos")
    assert len(res.get(namespace=NS).items) == 2


def test_dry_run_stores_nothing_and_schema_is_enforced(api) -> None:  # type: ignore[no-untyped-def]
    co = client.CustomObjectsApi(api)
    out = co.create_namespaced_custom_object(G, V, NS, P, body("dry"), dry_run="All")
    assert out["metadata"]["name"] == "dry"
    with pytest.raises(ApiException) as e:
        co.get_namespaced_custom_object(G, V, NS, P, "dry")
    assert e.value.status == 404 and '"reason":"NotFound"' in e.value.body.replace(" ", "")
    bad = body("bad")
    bad["spec"]["mode"] = "sometimes"
    with pytest.raises(ApiException) as e:
        co.create_namespaced_custom_object(G, V, NS, P, bad)
    assert e.value.status == 422 and "causes" in e.value.body


def test_put_with_stale_resource_version_conflicts(api) -> None:  # type: ignore[no-untyped-def]
    coord = client.CoordinationV1Api(api)
    lease = coord.create_namespaced_lease(
        NS, {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}}
    )
    lease.spec.holder_identity = "b"
    coord.replace_namespaced_lease("l", NS, lease)
    with pytest.raises(ApiException) as e:
        coord.replace_namespaced_lease("l", NS, lease)
    assert e.value.status == 409


def test_watch_from_resource_version_replays_missed_events(api) -> None:  # type: ignore[no-untyped-def]
    co = client.CustomObjectsApi(api)
    made = co.create_namespaced_custom_object(G, V, NS, P, body("w"))
    co.patch_namespaced_custom_object(G, V, NS, P, "w", {"metadata": {"labels": {"x": "1"}}})
    co.delete_namespaced_custom_object(G, V, NS, P, "w")
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        co.list_namespaced_custom_object,
        G,
        V,
        NS,
        P,
        resource_version=made["metadata"]["resourceVersion"],
        _request_timeout=5,
    ):
        seen.append((ev["type"], ev["object"]["metadata"]["name"]))
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("MODIFIED", "w"), ("DELETED", "w")]


def test_unknown_resource_is_a_plain_404_and_reviews_answer(emulator, api) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiException) as e:
        client.CustomObjectsApi(api).list_namespaced_custom_object(G, V, NS, "nochaos")
    assert e.value.status == 404 and "404 page not found" in e.value.body
    emulator.call(lambda h: h.denied.add(("delete", "podchaos")))
    authz = client.AuthorizationV1Api(api)
    review = {
        "spec": {"resourceAttributes": {"verb": "delete", "group": G, "resource": "podchaos"}}
    }
    assert authz.create_self_subject_access_review(review).status.allowed is False
    review["spec"]["resourceAttributes"]["verb"] = "create"
    assert authz.create_self_subject_access_review(review).status.allowed is True


def test_helpers() -> None:
    assert match_labels("a=1,!b", {"a": "1"}) and not match_labels("a=1,b", {"a": "1"})
    schema = {
        "properties": {
            "spec": {"properties": {"x": {}}},
            "metadata": {"x-kubernetes-preserve-unknown-fields": True},
        }
    }
    assert unknown_fields(
        {"spec": {"x": 1, "y": 2}, "metadata": {"z": 1}, "kind": "K"}, schema
    ) == ["spec.y"]
