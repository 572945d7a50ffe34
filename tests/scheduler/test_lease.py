"""Leader election with a Lease, against the kmock-based emulator over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.clock import FakeClock
from runner.kube.client import KubeClient, client_from_url
from runner.kube.resources import LEASES
from runner.scheduler import events as ev
from runner.scheduler.lease import LEASE_NAME, LeaseLeader
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.scheduler.conftest import Events, FakeRuns, write_drill
from tests.scheduler.test_service import service, wait_for

NS = "chaos-drills"


@pytest.fixture(scope="module")
def emulator() -> Iterator[KubeEmulatorThread]:
    with KubeEmulatorThread() as srv:
        yield srv


@pytest.fixture
def clients(emulator: KubeEmulatorThread) -> Iterator[list[KubeClient]]:
    made = [client_from_url(emulator.url, cluster="scheduler", timeout=5) for _ in range(2)]
    yield made
    for c in made:
        # each test starts without a lease
        if c.get_or_none(LEASES, LEASE_NAME, namespace=NS) is not None:
            c.delete(LEASES, LEASE_NAME, namespace=NS)
        c.close()


def leader(client: KubeClient, identity: str, clock: FakeClock) -> LeaseLeader:
    return LeaseLeader(client, namespace=NS, identity=identity, clock=clock, lease_seconds=30)


def test_two_replicas_race_for_a_new_lease_and_exactly_one_leads(
    clients: list[KubeClient],
) -> None:
    clock = FakeClock()
    leaders = [leader(c, f"replica-{i}", clock) for i, c in enumerate(clients)]
    barrier = threading.Barrier(2)
    won: dict[str, bool] = {}

    def contend(lead: LeaseLeader) -> None:
        barrier.wait()
        won[lead.identity] = lead.hold()

    threads = [threading.Thread(target=contend, args=(lead,)) for lead in leaders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(won.values()) == [False, True]
    winner = next(k for k, v in won.items() if v)
    lease = clients[0].get(LEASES, LEASE_NAME, namespace=NS)
    assert lease["spec"]["holderIdentity"] == winner
    assert lease["spec"]["leaseDurationSeconds"] == 30


def test_renewal_expiry_takeover_and_release(clients: list[KubeClient]) -> None:
    clock = FakeClock()
    a, b = leader(clients[0], "a", clock), leader(clients[1], "b", clock)
    assert a.hold() and not b.hold()
    clock.advance(25)
    assert a.hold()  # renewed at t=25: valid until t=55
    clock.advance(25)
    assert not b.hold()
    clock.advance(10)  # t=60: a missed its renewals
    assert b.hold() and not a.hold()
    lease = clients[0].get(LEASES, LEASE_NAME, namespace=NS)
    assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] == 1
    b.release()  # on shutdown: the standby takes over at once, not after expiry
    assert a.hold()


def test_two_schedulers_on_a_lease_only_the_leader_runs_drills(
    tmp_path: Path, runs: FakeRuns, clients: list[KubeClient]
) -> None:
    write_drill(tmp_path)
    clock = FakeClock(datetime(2026, 3, 10, 3, tzinfo=UTC))
    events = [Events(), Events()]
    svcs = [
        service(tmp_path, runs, leader=leader(c, f"s{i}", clock), events=events[i], clock=clock)
        for i, c in enumerate(clients)
    ]
    for s in svcs:
        s.tick()
    assert [s.leading for s in svcs] == [True, False]
    svcs[0].requests.add("nightly", by="ops", at=clock.now())
    svcs[1].tick()
    svcs[0].tick()
    wait_for(lambda: events[0].of(ev.DrillRunFinished))
    assert events[1] == [] and len(runs.calls) == 1
    assert svcs[0].shutdown()  # releases the lease
    svcs[1].tick()
    assert svcs[1].leading
    assert svcs[1].shutdown()
