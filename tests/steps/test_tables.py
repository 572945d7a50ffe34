"""Step kinds dispatched by one table per backend: every kind of the model is run by exactly
one backend, each executor refuses every other kind before it acts, and the Kubernetes
table says which verbs each of its kinds needs (preflight checks them)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, get_args

import pytest

from runner.backends import RunContext
from runner.chaosmesh.kube_steps import KubernetesSteps, required_access
from runner.clock import SystemClock
from runner.errors import StepError
from runner.lab.backend import LabSteps
from runner.lab.client import LabClient
from runner.lab.state import LabState
from runner.scenario import model
from runner.steps.dns import DnsConfig, DnsSteps, parse_server
from runner.steps.generic import GenericStepExecutor

REF = {"kind": "Deployment", "name": "pg", "namespace": "db"}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {}}
ONE_OF_EACH: dict[str, dict[str, Any]] = {
    "scale": {"target": REF, "replicas": 1},
    "patch": {"target": REF, "patch": {"spec": {}}},
    "apply": {"manifest": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}}},
    "delete": {"target": REF},
    "rollout-restart": {"target": REF},
    "wait-for": {"target": REF, "condition": "Available"},
    "capture": {"target": REF, "values": {"v": "spec.replicas"}},
    "list-item": {"target": REF, "path": "spec.taints", "match": {"key": "k"}, "remove": True},
    "exec": {"namespace": "db", "pod": "pg-0", "command": ["true"]},
    "job": {"manifest": JOB},
    "wait-for-query": {"query": "up", "expect": ">= 1"},
    "http": {"url": "http://127.0.0.1:1/x"},
    "command": {"command": ["true"]},
    "manual": {"instructions": "do it"},
    "sleep": {"duration": "1s"},
    **{a: {} for a in ("lab.promote", "lab.route", "lab.rejoin", "lab.switchover", "lab.fence")},
    "dns.update": {"record": "orders", "pointTo": ["east"]},
    "dns.wait": {"record": "orders", "expect": ["east"]},
}


def step(action: str) -> model.Step:
    raw = {"name": "s", "cluster": "east", "action": action, **ONE_OF_EACH[action]}
    return model.Failover.model_validate({"steps": [raw]}).steps[0]


class Untouchable:
    """A client that fails the test if anything of it is used."""

    cluster = "east"

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the client was used ({name}) for a step it must refuse")


def run() -> RunContext:
    return RunContext(
        run_id="r1",
        scenario="s",
        drill="d",
        operator="alice",
        clock=SystemClock(),
        cancel=threading.Event(),
        log=lambda _a, _d: None,
    )


def test_every_step_kind_is_in_exactly_one_backend_table() -> None:
    (union, _) = get_args(model.Step)
    every = {str(get_args(c.model_fields["action"].annotation)[0]) for c in get_args(union)}
    assert every == set(ONE_OF_EACH)
    tables = [
        model.KUBERNETES_ACTIONS,
        model.GENERIC_ACTIONS,
        model.LAB_ACTIONS,
        model.DNS_ACTIONS,
    ]
    assert sorted(a for t in tables for a in t) == sorted(every)  # each kind exactly once


@pytest.mark.parametrize("action", sorted(ONE_OF_EACH))
def test_each_executor_refuses_every_kind_outside_its_table(action: str) -> None:
    kube = KubernetesSteps(Untouchable(), namespace="db", clock=SystemClock())  # type: ignore[arg-type]
    generic = GenericStepExecutor()
    s = step(action)
    assert kube.supports(action) == (action in model.KUBERNETES_ACTIONS)
    assert generic.supports(action) == (action in model.GENERIC_ACTIONS)
    if action not in model.KUBERNETES_ACTIONS:
        with pytest.raises(StepError) as e:
            kube.execute(s, run())
        assert str(e.value) == f"action {action!r} is not a Kubernetes step"
    if action not in model.GENERIC_ACTIONS:
        with pytest.raises(StepError) as e:
            generic.execute(s, run())
        assert str(e.value) == f"action {action!r} is not a generic step"


@pytest.mark.parametrize("action", sorted(ONE_OF_EACH))
def test_the_kubernetes_table_names_the_verbs_of_each_of_its_kinds(action: str) -> None:
    access = required_access(step(action), "db")
    if action not in model.KUBERNETES_ACTIONS:
        assert access == []
        return
    verbs = {verb for verb, _res, _ns in access}
    assert verbs and verbs <= {"get", "list", "watch", "create", "patch", "update", "delete"}
    assert {ns for _v, _r, ns in access} == {"db"}


@pytest.mark.parametrize("action", sorted(ONE_OF_EACH))
def test_the_dns_table_refuses_every_other_kind_before_it_sends_anything(action: str) -> None:
    server = parse_server("127.0.0.1:1", "nobody")  # nothing listens: a send would fail
    config = DnsConfig(
        zone="lab.test",
        servers=(server,),
        primary=server,
        key_name="k",
        algorithm="hmac-sha256",
        secret="c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
    )
    dns_steps = DnsSteps(config)
    generic = GenericStepExecutor(dns=dns_steps)
    assert dns_steps.supports(action) == (action in model.DNS_ACTIONS)
    assert generic.supports(action) == (action in model.GENERIC_ACTIONS | model.DNS_ACTIONS)
    if action not in model.DNS_ACTIONS:
        with pytest.raises(StepError) as e:
            dns_steps.execute(step(action), run())
        assert str(e.value) == f"action {action!r} is not a DNS step"


@contextmanager
def refusing_lab() -> Iterator[str]:
    """A lab control API on a free loopback port that answers every step 409 with a reason."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"error": "site west is not a standby"}).encode()
            self.send_response(409)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("action", sorted(model.LAB_ACTIONS))
def test_a_lab_step_error_says_what_the_lab_said_without_the_step_name(action: str) -> None:
    """The engine prefixes `step 'NAME' failed after N attempt(s):`; the lab's own text must
    not repeat the name (it did: "step 'promote' failed ...: promote: lab POST ...")."""
    with refusing_lab() as url:
        state = LabState(
            supervisor_pid=0,
            control_url=url,
            router_url=url,
            metrics_url=url,
            prometheus_url=url,
            active_site="east",
            db_ports={},
            order_ports={},
            proxy_ports={},
            started_at=0.0,
        )
        raw = {"name": "unmistakable-step-name", "cluster": "west", "action": action}
        s = model.Failover.model_validate({"steps": [raw]}).steps[0]
        with pytest.raises(StepError) as e:
            LabSteps("west", LabClient(state)).execute(s, run())
    assert "unmistakable-step-name" not in str(e.value)
    assert str(e.value).startswith("lab POST ")
    assert str(e.value).endswith(": site west is not a standby")
