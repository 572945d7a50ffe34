"""Safety 12: the Kubernetes client against servers that do not answer as Kubernetes does,
and kubeconfigs that are not YAML, through `drillctl` as a user runs it.

The server (tests/infra/bad_kube.py) is real HTTP. Whatever it answers, drill-runner says
what is wrong in one clean message (no traceback), never reports "accepted" or success for
an answer that is not the object sent, and quotes neither the server's page nor the
kubeconfig's content (the token must not appear anywhere).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.errors import KubeError
from runner.kube.client import client_from_url
from runner.kube.errors import KubeProtocolError, KubeUnreachableError
from runner.kube.resources import LEASES, chaos_resource
from tests.infra.bad_kube import MODES, BadKubeServer
from tests.safety.conftest import drillctl
from tests.safety.files import TOKEN, write

ANSWERING = [m for m in MODES if m != "hang"]
RUN_SAYS = {
    "html": "not a Kubernetes API response",
    "html-error": "HTTP 502",
    "status-200": "not a Kubernetes API response",
    "status-malformed": "rejected",
    "json-list": "not a Kubernetes API response",
    "wrong-object": "not a Kubernetes API response",
}


@pytest.fixture(params=ANSWERING)
def server(request: pytest.FixtureRequest) -> Iterator[BadKubeServer]:
    with BadKubeServer(request.param) as srv:
        yield srv


def _clean(done: object) -> str:
    out = done.stdout + done.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in out, out
    assert TOKEN not in out and "<form" not in out and "password" not in out, out
    return str(out)


def test_plan_server_dry_run_never_says_accepted(tmp_path: Path, server: BadKubeServer) -> None:
    scenario, drill = write(tmp_path, server.url)
    done = drillctl(
        "plan", str(scenario), "--drill", str(drill), "--server-dry-run", "-o", "json",
        cwd=tmp_path,
    )  # fmt: skip
    _clean(done)
    assert done.returncode in (2, 3), done.stdout + done.stderr
    rows = json.loads(done.stdout)["clusters"]["east"]["objects"]
    assert rows and all(r["server"]["accepted"] is False for r in rows), rows
    assert all(r["server"]["error"] for r in rows)
    text = drillctl("plan", str(scenario), "--drill", str(drill), "--server-dry-run", cwd=tmp_path)
    assert "[server: accepted]" not in _clean(text) and "REJECTED" in text.stdout


def test_run_refuses_in_preflight_with_a_clean_error(tmp_path: Path, server: BadKubeServer) -> None:
    scenario, drill = write(tmp_path, server.url)
    done = drillctl("run", str(scenario), "--drill", str(drill), cwd=tmp_path)
    out = _clean(done)
    assert done.returncode == 3, out
    assert "preflight" in out and RUN_SAYS[server.mode] in out, out
    assert not any(m == "POST" and "chaos-mesh.org" in p for m, p in server.requests)


@pytest.mark.parametrize("command", [["cleanup"], ["status", "--results", "results"]])
def test_cleanup_and_status_fail_cleanly(
    tmp_path: Path, server: BadKubeServer, command: list[str]
) -> None:
    _, drill = write(tmp_path, server.url)
    done = drillctl(*command, "--drill", str(drill), cwd=tmp_path)
    out = _clean(done)
    assert done.returncode == 3, out
    assert "cluster 'east'" in out, out


def test_a_kubeconfig_that_is_not_yaml_is_a_clean_error(tmp_path: Path) -> None:
    scenario, drill = write(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "kubeconfig").write_text(
        f"users:\n  - name: u\n    user: {{token: {TOKEN}\n  - : : [\n"
    )
    for args in (
        ["run", str(scenario), "--drill", str(drill)],
        ["plan", str(scenario), "--drill", str(drill), "--server-dry-run"],
        ["cleanup", "--drill", str(drill)],
    ):
        done = drillctl(*args, cwd=tmp_path)
        out = _clean(done)
        assert done.returncode == 2, (args, out)
        assert "cannot load Kubernetes credentials" in out and "not valid YAML" in out, out
        assert "line " in out and "column " in out, out


def test_a_kubeconfig_of_the_wrong_shape_is_a_clean_error(tmp_path: Path) -> None:
    scenario, drill = write(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "kubeconfig").write_text(f"- {TOKEN}\n- just a list\n")
    done = drillctl("run", str(scenario), "--drill", str(drill), cwd=tmp_path)
    out = _clean(done)
    assert done.returncode == 2 and "not a kubeconfig" in out, out


def test_every_client_call_turns_a_bad_answer_into_a_kube_error(server: BadKubeServer) -> None:
    """Below the CLI: each verb, and watch, against each misbehaviour."""
    client = client_from_url(server.url, cluster="bad", timeout=5)
    pod_chaos = chaos_resource("PodChaos")
    calls = {
        "get": lambda: client.get(LEASES, "l", namespace="ns"),
        "list": lambda: client.list(pod_chaos, namespace="ns"),
        "create": lambda: client.create(pod_chaos, {"metadata": {"name": "x"}}, namespace="ns"),
        "patch": lambda: client.patch(LEASES, "l", {"a": 1}, namespace="ns"),
        "replace": lambda: client.replace(LEASES, "l", {"metadata": {}}, namespace="ns"),
        "can_i": lambda: client.can_i("create", pod_chaos, namespace="ns"),
        "watch": lambda: list(client.watch(pod_chaos, namespace="ns", timeout=1)),
        "discover": lambda: client.resource_of("apps/v1", "Deployment"),
    }
    try:
        for name, call in calls.items():
            with pytest.raises(KubeError) as err:
                call()
            assert "cluster 'bad'" in str(err.value), name
            if server.mode in ("html", "json-list", "wrong-object", "status-200"):
                assert isinstance(err.value, KubeProtocolError), (name, err.value)
    finally:
        client.close()


def test_a_server_that_never_answers_times_out_cleanly() -> None:
    with BadKubeServer("hang") as srv:
        client = client_from_url(srv.url, cluster="slow", timeout=1)
        try:
            started = time.monotonic()
            with pytest.raises(KubeUnreachableError) as err:
                client.get(LEASES, "l", namespace="ns")
            assert time.monotonic() - started < 5
            assert "cluster 'slow'" in str(err.value) and "unreachable" in str(err.value)
            # a watch that gets no answer in time is "no events", not an outage
            assert list(client.watch(LEASES, namespace="ns", timeout=1)) == []
        finally:
            client.close()
