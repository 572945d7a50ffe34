"""LeaseLock against a real API server: its resourceVersion preconditions decide the race."""

from __future__ import annotations

import threading

import pytest

from runner.chaosmesh.lease import LeaseLock
from runner.clock import FakeClock
from runner.errors import LockHeldError
from runner.kube.resources import LEASES
from tests.envtest.conftest import Envtest
from tests.kube.conftest import make_run

pytestmark = pytest.mark.envtest


def race(envtest: Envtest, ns: str, name: str, clock: FakeClock) -> dict[str, object]:
    """Two runs, each with its own connection, acquire the same lease at the same moment."""
    clients = [envtest.client("east") for _ in range(2)]
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def contend(i: int) -> None:
        run = make_run(f"run-{i}", clock=clock)
        lock = LeaseLock(
            clients[i], target="east", namespace=ns, clock=clock, name=name, auto_renew=False
        )
        barrier.wait()
        try:
            lock.acquire(run)
            outcome[run.run_id] = "won"
        except LockHeldError as e:
            outcome[run.run_id] = e

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    for c in clients:
        c.close()
    return outcome


def check_one_winner(envtest: Envtest, ns: str, name: str, outcome: dict[str, object]) -> None:
    winners = [k for k, v in outcome.items() if v == "won"]
    losers = [v for v in outcome.values() if isinstance(v, LockHeldError)]
    assert len(winners) == 1 and len(losers) == 1, outcome
    assert losers[0].holder == winners[0] and losers[0].target == "east"
    assert f"target 'east' is locked by run {winners[0]} since 2026-01-01T00:" in str(losers[0])
    held = envtest.admins["east"].get(LEASES, name, namespace=ns)
    assert held["spec"]["holderIdentity"] == winners[0]


def test_two_runs_race_for_a_new_lease(envtest: Envtest, ns: str) -> None:
    for i in range(5):  # create vs create: the server answers 409 AlreadyExists to one
        name = f"lock-{i}"
        check_one_winner(envtest, ns, name, race(envtest, ns, name, FakeClock()))


def test_two_runs_race_to_take_over_an_expired_lease(envtest: Envtest, ns: str) -> None:
    for i in range(5):  # replace vs replace on the same resourceVersion: 409 Conflict to one
        name = f"lock-{i}"
        clock = FakeClock()
        dead = make_run("dead", clock=clock)
        LeaseLock(
            envtest.admins["east"],
            target="east",
            namespace=ns,
            clock=clock,
            name=name,
            lease_seconds=30,
            auto_renew=False,
        ).acquire(dead)
        clock.advance(31)
        outcome = race(envtest, ns, name, clock)
        check_one_winner(envtest, ns, name, outcome)
        assert not any(
            isinstance(v, LockHeldError) and v.holder == "dead" for v in outcome.values()
        )


def test_release_renew_and_holder_checks(envtest: Envtest, ns: str) -> None:
    clock = FakeClock()
    kube = envtest.admins["east"]
    a, b = make_run("a", clock=clock), make_run("b", clock=clock)

    def lock() -> LeaseLock:
        return LeaseLock(
            kube, target="east", namespace=ns, clock=clock, lease_seconds=30, auto_renew=False
        )

    lock().acquire(a)
    with pytest.raises(LockHeldError, match="locked by run a"):
        lock().acquire(b)
    clock.advance(20)
    lock().renew(a)
    clock.advance(20)
    with pytest.raises(LockHeldError):
        lock().acquire(b)  # renewed at t=20: still held at t=40
    lock().release(b)  # not the holder: nothing happens
    assert kube.get(LEASES, "drill-runner-lock", namespace=ns)["spec"]["holderIdentity"] == "a"
    lock().release(a)
    assert kube.get_or_none(LEASES, "drill-runner-lock", namespace=ns) is None
