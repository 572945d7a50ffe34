"""LeaseLock: exactly one of two racing runs wins; the loser is told who holds the target."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from runner.chaosmesh.lease import LEASE_NAME, LeaseLock
from runner.clock import FakeClock
from runner.errors import LockHeldError
from runner.kube.client import KubeClient, client_from_url
from runner.kube.resources import LEASES
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.kube.conftest import NS, make_run


def lock(kube: KubeClient, clock: FakeClock) -> LeaseLock:
    return LeaseLock(
        kube, target="east", namespace=NS, clock=clock, auto_renew=False, lease_seconds=30
    )


def test_two_runs_race_exactly_one_wins(emulator: KubeEmulatorThread) -> None:
    clock = FakeClock()
    clients = [client_from_url(emulator.url, cluster="east") for _ in range(2)]
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def contend(i: int) -> None:
        run = make_run(f"run-{i}", clock=clock)
        barrier.wait()
        try:
            lock(clients[i], clock).acquire(run)
            outcome[run.run_id] = "won"
        except LockHeldError as e:
            outcome[run.run_id] = e

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    winners = [k for k, v in outcome.items() if v == "won"]
    losers = [v for v in outcome.values() if isinstance(v, LockHeldError)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].holder == winners[0] and losers[0].target == "east"
    assert winners[0] in str(losers[0]) and losers[0].since.startswith("2026-01-01T00:00:00")
    held = clients[0].get(LEASES, LEASE_NAME, namespace=NS)
    assert held["spec"]["holderIdentity"] == winners[0]


def test_expired_lease_is_taken_over_and_renew_release(kube: KubeClient) -> None:
    clock = FakeClock()
    a, b = make_run("a", clock=clock), make_run("b", clock=clock)
    lock(kube, clock).acquire(a)
    lock(kube, clock).acquire(a)  # re-entrant for the holder
    with pytest.raises(LockHeldError, match="locked by run a"):
        lock(kube, clock).acquire(b)
    clock.advance(20)
    lock(kube, clock).renew(a)  # pushes expiry to t=50
    clock.advance(20)
    with pytest.raises(LockHeldError):
        lock(kube, clock).acquire(b)
    clock.advance(timedelta(seconds=15).total_seconds())
    lock(kube, clock).acquire(b)  # a stopped renewing: expired, b takes over
    with pytest.raises(LockHeldError, match="locked by run b"):
        lock(kube, clock).renew(a)
    lock(kube, clock).release(a)  # not the holder: leaves b's lease alone
    assert kube.get(LEASES, LEASE_NAME, namespace=NS)["spec"]["holderIdentity"] == "b"
    lock(kube, clock).release(b)
    assert kube.get_or_none(LEASES, LEASE_NAME, namespace=NS) is None


def test_force_unlock_and_auto_renew(kube: KubeClient) -> None:
    from runner.clock import SystemClock

    run = make_run("r", clock=SystemClock())
    auto = LeaseLock(kube, target="east", namespace=NS, clock=SystemClock(), lease_seconds=3)
    auto.acquire(run)
    first = kube.get(LEASES, LEASE_NAME, namespace=NS)["spec"]["renewTime"]
    threading.Event().wait(1.3)
    assert kube.get(LEASES, LEASE_NAME, namespace=NS)["spec"]["renewTime"] != first
    assert LeaseLock(kube, target="east", namespace=NS, clock=SystemClock()).force_unlock() == "r"
    auto.release(run)
    assert kube.get_or_none(LEASES, LEASE_NAME, namespace=NS) is None
