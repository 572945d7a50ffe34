"""wait-for with field conditions, capture and list-item against the emulator (real HTTP).
The same steps against a real API server and upstream CRDs: tests/envtest/test_recipes_*."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from runner.chaosmesh.kube_steps import KubernetesSteps, resource_for
from runner.clock import SystemClock
from runner.errors import StepError
from runner.kube.client import KubeClient, client_from_url
from runner.scenario import model
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.kube.conftest import make_run

DEPLOY = resource_for("Deployment", None)


def deployment(name: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"replicas": 1},
        "status": status,
    }


def step(**raw: object) -> model.Step:
    raw.setdefault("name", "s")
    raw.setdefault("cluster", "east")
    return model.Failover.model_validate({"steps": [raw]}).steps[0]


REF = {"kind": "Deployment", "name": "web", "namespace": "shop"}


@pytest.fixture
def kube() -> Iterator[KubeClient]:
    with KubeEmulatorThread(extra=["apps/v1/deployments"]) as emu:
        client = client_from_url(emu.url, cluster="east")
        yield client
        client.close()


def later(seconds: float, fn: Any) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        fn()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_wait_for_field_conditions_sees_a_later_change(kube: KubeClient) -> None:
    kube.create(DEPLOY, deployment("web", phase="InProgress"), namespace="shop")
    steps = KubernetesSteps(kube, namespace="x", clock=SystemClock())
    t = later(
        0.5,
        lambda: kube.patch(
            DEPLOY, "web", {"status": {"phase": "Completed", "warnings": 2}}, namespace="shop"
        ),
    )
    out = steps.execute(
        step(
            action="wait-for",
            target=REF,
            timeout="10s",
            conditions=["status.phase == Completed", "status.warnings >= 1"],
        ),
        make_run(),
    ).output
    t.join()
    assert out == ("Deployment shop/web is ready (status.phase = 'Completed'; status.warnings = 2)")


def test_fail_when_fails_at_once_with_what_it_saw(kube: KubeClient) -> None:
    kube.create(DEPLOY, deployment("web", phase="PartiallyFailed", errors=3), namespace="shop")
    steps = KubernetesSteps(kube, namespace="x", clock=SystemClock())
    started = time.monotonic()
    with pytest.raises(StepError) as info:
        steps.execute(
            step(
                action="wait-for",
                target=REF,
                timeout="30s",
                conditions=["status.phase == Completed"],
                failWhen=["status.phase in [Failed, PartiallyFailed]", "status.errors > 0"],
            ),
            make_run(),
        )
    assert time.monotonic() - started < 5
    assert str(info.value) == (
        "Deployment shop/web meets the failure condition status.phase in "
        "[Failed, PartiallyFailed] (status.phase = 'PartiallyFailed')"
    )


def test_a_timeout_names_each_pending_condition_and_its_last_value(kube: KubeClient) -> None:
    kube.create(DEPLOY, deployment("web", phase="InProgress"), namespace="shop")
    steps = KubernetesSteps(kube, namespace="x", clock=SystemClock())
    with pytest.raises(StepError) as info:
        steps.execute(
            step(
                action="wait-for",
                target=REF,
                timeout="1s",
                conditions=[
                    "status.phase == Completed",
                    "metadata.name == web",
                    "status.errors absent",
                ],
            ),
            make_run(),
        )
    assert str(info.value) == (
        "Deployment shop/web did not reach status.phase == Completed within 1s "
        "(last seen: status.phase = 'InProgress')"
    )
    with pytest.raises(StepError, match=r"\(last seen: the object does not exist\)"):
        steps.execute(
            step(
                action="wait-for",
                target={**REF, "name": "nope"},
                timeout="1s",
                conditions=["status.phase == Completed"],
            ),
            make_run(),
        )


def test_the_old_condition_and_field_forms_still_work(kube: KubeClient) -> None:
    ready = {"conditions": [{"type": "Available", "status": "True"}], "phase": "Running"}
    kube.create(DEPLOY, deployment("web", **ready), namespace="shop")
    steps = KubernetesSteps(kube, namespace="x", clock=SystemClock())
    run = make_run()
    steps.execute(step(action="wait-for", target=REF, condition="Available", timeout="2s"), run)
    steps.execute(
        step(action="wait-for", target=REF, field="status.phase", equals="Running", timeout="2s"),
        run,
    )
    with pytest.raises(StepError, match=r"Ready.*\].status == True within 1s"):
        steps.execute(step(action="wait-for", target=REF, condition="Ready", timeout="1s"), run)


def test_capture_reads_a_named_object_and_the_newest_of_a_selection(kube: KubeClient) -> None:
    for name, done, phase in (
        ("b1", "2025-01-30T01:00:00Z", "Completed"),
        ("b2", "2025-01-31T01:00:00Z", "Completed"),
        ("b3", "2025-01-31T02:00:00Z", "PartiallyFailed"),  # newer, but not Completed
    ):
        kube.create(
            DEPLOY, deployment(name, completionTimestamp=done, phase=phase), namespace="shop"
        )
    steps = KubernetesSteps(kube, namespace="x", clock=SystemClock())
    got = steps.execute(
        step(
            action="capture",
            select={
                "kind": "Deployment",
                "namespace": "shop",
                "labels": {"app": "web"},
                "where": ["status.phase == Completed"],
                "newest": "status.completionTimestamp",
            },
            values={"backup": "metadata.name", "done": "status.completionTimestamp"},
        ),
        make_run(),
    )
    assert got.captured == {"backup": "b2", "done": "2025-01-31T01:00:00Z"}
    named = steps.execute(
        step(
            action="capture",
            target={**REF, "name": "b1"},
            values={"spec": "spec", "phase": "status.phase"},
        ),
        make_run(),
    )
    assert named.captured == {"spec": '{"replicas":1}', "phase": "Completed"}
    with pytest.raises(StepError, match=r"Deployment shop/b1 has no status.errors"):
        steps.execute(
            step(action="capture", target={**REF, "name": "b1"}, values={"e": "status.errors"}),
            make_run(),
        )
    with pytest.raises(
        StepError,
        match=r"no Deployment in shop labelled app=web meets "
        r"status.phase == Failed",
    ):
        steps.execute(
            step(
                action="capture",
                select={
                    "kind": "Deployment",
                    "namespace": "shop",
                    "labels": {"app": "web"},
                    "where": ["status.phase == Failed"],
                    "newest": "metadata.name",
                },
                values={"x": "metadata.name"},
            ),
            make_run(),
        )


def test_list_item_adds_and_removes_an_item_keeping_the_others(kube: KubeClient) -> None:
    obj = deployment("web")
    obj["spec"]["taints"] = [{"key": "other", "effect": "NoSchedule"}]
    kube.create(DEPLOY, obj, namespace="shop")
    steps = KubernetesSteps(kube, namespace="x", clock=SystemClock())
    run = make_run()
    taint = {"key": "drill-runner.dev/lost", "effect": "NoExecute", "value": "r1"}
    match = {"key": "drill-runner.dev/lost", "effect": "NoExecute"}
    out = steps.execute(
        step(action="list-item", target=REF, path="spec.taints", match=match, item=taint), run
    ).output
    assert out == "the item is set in spec.taints of Deployment shop/web"
    assert kube.get(DEPLOY, "web", namespace="shop")["spec"]["taints"] == [
        {"key": "other", "effect": "NoSchedule"},
        taint,
    ]
    again = steps.execute(
        step(action="list-item", target=REF, path="spec.taints", match=match, item=taint), run
    ).output
    assert again == "the item is already in spec.taints of Deployment shop/web"
    steps.execute(
        step(action="list-item", target=REF, path="spec.taints", match=match, remove=True), run
    )
    assert kube.get(DEPLOY, "web", namespace="shop")["spec"]["taints"] == [
        {"key": "other", "effect": "NoSchedule"}
    ]
    # a list that does not exist yet is created
    steps.execute(
        step(
            action="list-item",
            target=REF,
            path="spec.tolerations.extra",
            match={"k": 1},
            item={"k": 1},
        ),
        run,
    )
    assert kube.get(DEPLOY, "web", namespace="shop")["spec"]["tolerations"] == {"extra": [{"k": 1}]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"action": "capture", "values": {"x": "a"}}, "give exactly one of 'target' or 'select'"),
        (
            {"action": "capture", "select": {"kind": "B"}, "values": {"x": "a"}},
            "'select' needs 'newest'",
        ),
        ({"action": "capture", "target": REF, "values": {"9x": "a"}}, "should match pattern"),
        (
            {"action": "list-item", "target": REF, "path": "spec.taints", "match": {"k": 1}},
            "give either 'item' or 'remove: true'",
        ),
        (
            {
                "action": "list-item",
                "target": REF,
                "path": "spec.taints[0]",
                "match": {"k": 1},
                "remove": True,
            },
            "names keys only",
        ),
        (
            {"action": "wait-for", "target": REF, "conditions": ["status.phase = x"]},
            "expected an operator",
        ),
        (
            {"action": "wait-for", "target": REF, "field": "status.phase"},
            "give 'field' and 'equals' together",
        ),
    ],
)
def test_bad_object_steps_are_refused_when_loaded(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        step(**raw)
