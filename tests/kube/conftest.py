"""Fixtures: a fresh kube emulator per test (real HTTP on 127.0.0.1), clients, run contexts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from runner.backends import RunContext
from runner.clock import SystemClock
from runner.kube.client import KubeClient, client_from_url
from tests.infra.kube_emulator import KubeEmulatorThread, load_crds
from tests.kube.fake_controller import FakeChaosController

NS = "chaos-drills"
CRDS = load_crds()


@pytest.fixture
def emulator() -> Iterator[KubeEmulatorThread]:
    with KubeEmulatorThread(crds=CRDS) as srv:
        yield srv


@pytest.fixture
def kube(emulator: KubeEmulatorThread) -> Iterator[KubeClient]:
    client = client_from_url(emulator.url, cluster="east", timeout=5)
    yield client
    client.close()


@pytest.fixture
def controller(emulator: KubeEmulatorThread) -> Iterator[FakeChaosController]:
    client = client_from_url(emulator.url, cluster="east", timeout=5)
    with FakeChaosController(client, NS) as ctl:
        yield ctl
    client.close()


class AuditLog(list[tuple[str, dict[str, Any]]]):
    def __call__(self, action: str, details: Any) -> None:
        self.append((action, dict(details)))


def make_run(run_id: str = "r1", **kw: Any) -> RunContext:
    return RunContext(
        run_id=run_id,
        scenario=kw.get("scenario", "site-loss"),
        drill=kw.get("drill", "nightly"),
        operator=kw.get("operator", "alice"),
        clock=kw.get("clock", SystemClock()),
        cancel=kw.get("cancel", threading.Event()),
        log=kw.get("log", AuditLog()),
        inject_timeout_seconds=kw.get("inject_timeout_seconds", 120.0),
        remove_timeout_seconds=kw.get("remove_timeout_seconds", 120.0),
    )


@pytest.fixture
def run() -> RunContext:
    return make_run()
