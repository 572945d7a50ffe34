"""The `exec` step against a real websocket server (tests/infra/exec_server.py).

Everything goes over the network on 127.0.0.1: the official client's websocket
(`kubernetes.stream`) talks to an aiohttp server that speaks `v4.channel.k8s.io` and
really runs the command as a local process.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from runner.chaosmesh.kube_steps import KubernetesSteps, required_access
from runner.clock import SystemClock
from runner.errors import StepError
from runner.kube.client import KubeClient, client_from_url
from runner.kube.errors import (
    KubeForbiddenError,
    KubeNotFoundError,
    KubeUnreachableError,
)
from runner.kube.exec import POD_EXEC, KubeExecTimeoutError
from runner.kube.resources import PODS
from runner.scenario import model
from tests.infra.exec_server import PROTOCOL, ExecServerThread
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.kube.conftest import make_run

NS = "db"
CLOCK = SystemClock()


def step(**raw: object) -> model.Step:
    raw.setdefault("name", "s")
    raw.setdefault("cluster", "east")
    raw.setdefault("action", "exec")
    raw.setdefault("namespace", NS)
    return model.Failover.model_validate({"steps": [raw]}).steps[0]


@pytest.fixture
def server() -> Iterator[ExecServerThread]:
    with ExecServerThread(command_timeout=30) as srv:
        srv.add_pod("pg-0", namespace=NS, labels={"app": "pg", "role": "replica"})
        srv.add_pod("pg-1", namespace=NS, labels={"app": "pg", "role": "primary"})
        srv.add_pod("pg-2", namespace=NS, labels={"app": "pg"}, phase="Pending")
        srv.add_pod("web-0", namespace=NS, labels={"app": "web"}, phase="Pending")
        srv.add_pod("multi", namespace=NS, containers=("app", "sidecar"))
        yield srv


@pytest.fixture
def kube(server: ExecServerThread) -> Iterator[KubeClient]:
    client = client_from_url(server.url, cluster="east", timeout=5)
    yield client
    client.close()


@pytest.fixture
def steps(kube: KubeClient) -> KubernetesSteps:
    return KubernetesSteps(kube, namespace="chaos-drills", clock=CLOCK)


def test_exec_by_pod_name_captures_output(steps: KubernetesSteps, server: ExecServerThread) -> None:
    s = step(pod="pg-0", command=["sh", "-c", "echo hello from $0; echo warn >&2", "pg"])
    result = steps.execute(s, make_run())
    assert "hello from pg" in result.output and "warn" in result.output
    assert result.details["exitCode"] == 0
    assert result.details["stdout"] == "hello from pg\n"
    assert result.details["stderr"] == "warn\n"
    assert result.details["pod"] == "pg-0" and result.details["namespace"] == NS
    (call,) = server.calls
    assert call.command == ["sh", "-c", "echo hello from $0; echo warn >&2", "pg"]
    assert call.protocol == PROTOCOL and call.exit_code == 0 and not call.killed
    assert steps.supports("exec")


def test_exec_by_selector_picks_the_first_running_pod(
    steps: KubernetesSteps, server: ExecServerThread
) -> None:
    result = steps.execute(step(selector={"app": "pg"}, command=["echo", "ok"]), make_run())
    assert result.output == "ok\n" and result.details["pod"] == "pg-0"
    result = steps.execute(
        step(selector={"app": "pg", "role": "primary"}, command=["true"]), make_run()
    )
    assert result.details["pod"] == "pg-1"
    assert [c.pod for c in server.calls] == ["pg-0", "pg-1"]
    with pytest.raises(
        StepError, match=r"no Running pod matches app=web .*\(found: web-0 Pending\)"
    ):
        steps.execute(step(selector={"app": "web"}, command=["true"]), make_run())
    with pytest.raises(StepError, match=r"no Running pod matches app=none in namespace 'db'$"):
        steps.execute(step(selector={"app": "none"}, command=["true"]), make_run())
    assert len(server.calls) == 2  # nothing ran without a running pod


def test_exec_names_exactly_one_of_pod_or_selector() -> None:
    with pytest.raises(ValidationError, match="exactly one of 'pod' or 'selector'"):
        step(command=["true"])
    with pytest.raises(ValidationError, match="exactly one of 'pod' or 'selector'"):
        step(pod="pg-0", selector={"app": "pg"}, command=["true"])


def test_exec_in_a_named_container(steps: KubernetesSteps, server: ExecServerThread) -> None:
    result = steps.execute(
        step(pod="multi", container="sidecar", command=["echo", "side"]), make_run()
    )
    assert result.output == "side\n" and server.calls[-1].container == "sidecar"
    with pytest.raises(StepError, match=r"rejected \(BadRequest\): container nope is not valid"):
        steps.execute(step(pod="multi", container="nope", command=["true"]), make_run())


def test_non_zero_exit_fails_with_code_and_output_tail(steps: KubernetesSteps) -> None:
    script = "for i in $(seq 1 40); do echo line $i; done; echo broken >&2; exit 3"
    with pytest.raises(StepError) as e:
        steps.execute(step(name="promote", pod="pg-1", command=["sh", "-c", script]), make_run())
    msg = str(e.value)
    assert msg.startswith("sh -c ")
    assert "in pod db/pg-1 exited with code 3; last output:\n" in msg
    assert msg.endswith("line 40\nbroken")
    assert "\nline 22\n" in msg and "line 21\n" not in msg  # the last 20 lines only


def test_output_is_bounded(steps: KubernetesSteps, kube: KubeClient) -> None:
    big = [sys.executable, "-c", "import sys; sys.stdout.write('x' * 300_000 + 'END')"]
    result = steps.execute(step(pod="pg-0", command=big), make_run())
    assert len(result.output) == 2000 and result.output.endswith("xEND")
    assert result.details["truncated"] is True
    raw = kube.exec("pg-0", big, namespace=NS, timeout=10, clock=CLOCK, limit=1000)
    assert raw.exit_code == 0 and raw.truncated and len(raw.stdout) == 1000


def test_unknown_pod_is_not_found(steps: KubernetesSteps, kube: KubeClient) -> None:
    with pytest.raises(StepError) as e:
        steps.execute(step(pod="ghost", command=["true"]), make_run())
    assert str(e.value) == (
        "cluster 'east': create pods/exec 'ghost' in namespace 'db': not found: "
        'pods "ghost" not found'
    )
    with pytest.raises(KubeNotFoundError):
        kube.exec("ghost", ["true"], namespace=NS, timeout=5, clock=CLOCK)


def test_forbidden_names_the_missing_grant(steps: KubernetesSteps, kube: KubeClient) -> None:
    with pytest.raises(StepError) as e:
        steps.execute(step(pod="forbidden", command=["true"]), make_run())
    msg = str(e.value)
    assert "cluster 'east': create pods/exec 'forbidden' in namespace 'db': forbidden: " in msg
    assert 'cannot create resource "pods/exec"' in msg
    assert "grant verb 'create' on pods/exec" in msg
    with pytest.raises(KubeForbiddenError):
        kube.exec("forbidden", ["true"], namespace=NS, timeout=5, clock=CLOCK)


def test_the_token_is_sent_but_never_echoed(server: ExecServerThread) -> None:
    from kubernetes import client as k8s

    cfg = k8s.Configuration()
    cfg.host = server.url
    cfg.api_key = {"authorization": "s3cr3t-token"}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    kube = KubeClient(k8s.ApiClient(cfg), cluster="east")
    steps = KubernetesSteps(kube, namespace=NS, clock=CLOCK)
    assert steps.execute(step(pod="pg-0", command=["true"]), make_run()).output == ""
    for pod in ("forbidden", "ghost"):
        with pytest.raises(StepError) as e:
            steps.execute(step(pod=pod, command=["true"]), make_run())
        assert "s3cr3t" not in str(e.value)
    with pytest.raises(StepError) as e:
        steps.execute(step(pod="pg-0", command=["sh", "-c", "exit 1"]), make_run())
    assert "s3cr3t" not in str(e.value)
    assert server.handshakes == ["Bearer s3cr3t-token"] * 4
    kube.close()


def test_a_missing_executable_is_reported(steps: KubernetesSteps) -> None:
    with pytest.raises(StepError, match=r"the command could not run: exec: 'no-such-tool-xyz'"):
        steps.execute(step(pod="pg-0", command=["no-such-tool-xyz"]), make_run())


def test_timeout_stops_a_long_command(steps: KubernetesSteps, server: ExecServerThread) -> None:
    s = step(pod="pg-0", command=["sh", "-c", "echo started; sleep 30"], timeout="1s")
    start = CLOCK.monotonic()
    with pytest.raises(StepError, match=r"did not finish within 1s; last output:\nstarted$"):
        steps.execute(s, make_run())
    assert CLOCK.monotonic() - start < 5
    (call,) = server.calls
    assert call.done.wait(5) and call.killed  # the server saw the client leave


def test_cancel_stops_a_running_command(kube: KubeClient, server: ExecServerThread) -> None:
    run = make_run()
    steps = KubernetesSteps(kube, namespace=NS, clock=CLOCK)
    s = step(pod="pg-0", command=["sleep", "30"], timeout="30s")
    timer = threading.Timer(0.5, run.cancel.set)
    timer.start()
    with pytest.raises(StepError, match="the command was cancelled"):
        steps.execute(s, run)
    assert server.calls[0].done.wait(5) and server.calls[0].killed


def test_unreachable_api_server() -> None:
    with socket.socket() as sock:  # a free port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kube = client_from_url(f"http://127.0.0.1:{port}", cluster="east", timeout=2)
    with pytest.raises(KubeUnreachableError, match="the API server is unreachable") as e:
        kube.exec("pg-0", ["true"], namespace=NS, timeout=5, clock=CLOCK)
    assert "create pods/exec 'pg-0' in namespace 'db'" in str(e.value)
    kube.close()


def test_a_handshake_that_never_answers_times_out() -> None:
    with socket.socket() as sock:  # accepts TCP connections, never answers the upgrade
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        kube = client_from_url(f"http://127.0.0.1:{sock.getsockname()[1]}", cluster="east")
        start = CLOCK.monotonic()
        with pytest.raises(KubeExecTimeoutError, match=r"did not open \(no answer within 1s\)"):
            kube.exec("pg-0", ["true"], namespace=NS, timeout=1, clock=CLOCK)
        assert CLOCK.monotonic() - start < 3
        kube.close()


def test_required_access_for_exec() -> None:
    by_name = step(pod="pg-0", command=["true"])
    by_selector = step(selector={"app": "pg"}, command=["true"])
    assert required_access(by_name, "chaos-drills") == [
        ("create", POD_EXEC, NS),
        ("get", POD_EXEC, NS),
    ]
    assert required_access(by_selector, "chaos-drills") == [
        ("create", POD_EXEC, NS),
        ("get", POD_EXEC, NS),
        ("list", PODS, NS),
    ]
    assert POD_EXEC.qualified == "pods/exec"


def test_can_i_checks_the_exec_subresource() -> None:
    """SelfSubjectAccessReview for pods/exec asks about resource pods (subresource exec)."""
    with KubeEmulatorThread() as emu:
        kube = client_from_url(emu.url, cluster="east")
        assert kube.can_i("create", POD_EXEC, namespace=NS) == (True, "")
        emu.call(lambda h: h.denied.add(("create", "pods")))
        # the emulator denies by (verb, resource): resource is `pods`, not `pods/exec`
        assert kube.can_i("create", POD_EXEC, namespace=NS) == (False, "denied by test RBAC")
        kube.close()
