"""dns.update and dns.wait against real BIND 9 (the lab's DnsService, no sites): the TTL the
RTO's "TTL bound" uses is the longest a client may hold an answer, read from the wire."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from runner.lab.dns import ALGORITHM, KEY_NAME, DnsService, named_binary
from runner.lab.topology import DnsSpec
from runner.scenario import model
from runner.steps.dns import DnsConfig, DnsSteps
from tests.lab.conftest import make_run

pytestmark = pytest.mark.lab

EAST, WEST = "127.0.0.1", "127.0.0.2"


@pytest.fixture(scope="module")
def bind() -> Iterator[DnsService]:
    if named_binary() is None:
        pytest.skip("needs BIND 9's named (Debian package bind9; scripts/setup.sh installs it)")
    base = Path(tempfile.mkdtemp(prefix="drill-dns-", dir="/tmp"))
    service = DnsService(base / "dns", DnsSpec(ttl=timedelta(seconds=5), secondaries=1))
    try:
        service.start([EAST])
        yield service
    finally:
        service.stop()
        shutil.rmtree(base, ignore_errors=True)


def steps_for(service: DnsService) -> DnsSteps:
    servers = tuple(service.servers)
    return DnsSteps(
        DnsConfig(
            zone=service.zone,
            servers=servers,
            primary=servers[0],
            key_name=KEY_NAME,
            algorithm=ALGORITHM,
            secret=service.secret_file.read_text().strip(),
            timeout=2.0,
            addresses={"primary": (EAST,), "secondary": (WEST,)},
        )
    )


def answer(service: DnsService) -> tuple[list[str], int]:
    """What a client resolving the name gets from the primary, read with plain dnspython."""
    server = service.primary
    reply = dns.query.udp(
        dns.message.make_query(f"orders.{service.zone}", "A"),
        server.host,
        port=server.port,
        timeout=2,
    )
    rrs = next(r for r in reply.answer if r.rdtype == dns.rdatatype.A)
    return sorted(r.to_text() for r in rrs), int(rrs.ttl)


def step(action: str, **fields: Any) -> Any:
    raw = {"name": action, "action": action, "record": "orders", **fields}
    return model.Scenario.model_validate(
        {
            "apiVersion": "drill-runner.dev/v1alpha1",
            "kind": "Scenario",
            "metadata": {"name": "s"},
            "spec": {
                "clusters": [{"name": "primary"}, {"name": "secondary"}],
                "faults": [
                    {"name": "f", "type": "cluster-loss", "cluster": "primary", "duration": "1m"}
                ],
                "failover": {"steps": [raw]},
            },
        }
    ).spec.failover.steps[0]


def move(steps: DnsSteps, to: str, ttl: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    run = make_run("dns-steps")
    update = step("dns.update", pointTo=[to], **({"ttl": ttl} if ttl else {}))
    updated = steps.execute(update, run).details
    waited = steps.execute(step("dns.wait", expect=[to], poll="50ms", timeout="20s"), run)
    return dict(updated or {}), dict(waited.details or {})


def test_a_shortened_ttl_does_not_shorten_the_bound(bind: DnsService) -> None:
    steps = steps_for(bind)
    before, cached_ttl = answer(bind)
    assert before == [EAST] and cached_ttl == 5
    updated, waited = move(steps, "secondary", "1s")
    after, new_ttl = answer(bind)
    assert after == [WEST] and new_ttl == 1  # the server took the shorter TTL
    assert updated["ttlSeconds"] == 1 and updated["replacedTtlSeconds"] == cached_ttl
    # a client that resolved just before the update keeps the old answer for 5 s, not 1
    assert waited["ttlSeconds"] == cached_ttl
    # and back, lengthening it: the new TTL is the longer one
    updated, waited = move(steps, "primary", "9s")
    assert answer(bind) == ([EAST], 9)
    assert updated["replacedTtlSeconds"] == 1 and waited["ttlSeconds"] == 9


def test_without_an_update_the_bound_is_the_ttl_the_servers_answer(bind: DnsService) -> None:
    steps = steps_for(bind)  # a drill whose DNS moves by itself (k8gb): dns.wait only
    expected, ttl = answer(bind)
    cluster = "primary" if expected == [EAST] else "secondary"
    waited = steps.execute(step("dns.wait", expect=[cluster], poll="50ms"), make_run("w"))
    assert waited.details is not None and waited.details["ttlSeconds"] == ttl
