"""A third site is a line of topology data: a real lab with three sites, each on its own
loopback address, failing over to the third one and rejoining the other two to it."""

from __future__ import annotations

import ipaddress
import os
import urllib.request
from pathlib import Path

import pytest

from runner.errors import LabError
from runner.lab import launcher, processes
from runner.lab.backend import LabBackend, open_lab_target
from runner.lab.client import LabClient
from runner.scenario import model
from tests.lab.conftest import make_run, wait_for
from tests.lab.test_lab import get, inject, loss, post, step

pytestmark = pytest.mark.lab

TOPOLOGY = """apiVersion: drill-runner.dev/v1alpha1
kind: LabTopology
metadata: {name: three-site}
spec:
  sites:
    - {name: east, address: 127.0.40.1}
    - {name: west, address: 127.0.40.2}
    - {name: north, address: 127.0.40.3}
"""
ADDRESSES = {"east": "127.0.40.1", "west": "127.0.40.2", "north": "127.0.40.3"}


@pytest.fixture(scope="module")
def lab(lab_dir: Path) -> LabClient:
    lab_dir.parent.joinpath("three.yaml").write_text(TOPOLOGY)
    return LabClient(launcher.start(lab_dir, topology=str(lab_dir.parent / "three.yaml")))


def site(lab_dir: Path, name: str, cluster: str) -> LabBackend:
    target = model.Target(lab=model.LabTarget(site=name, state_dir=str(lab_dir)))
    return open_lab_target(cluster, target, drill_dir=Path.cwd())


def streams_from(lab: LabClient, primary: str) -> bool:
    sites = lab.status()["sites"]
    return sites[primary]["role"] == "primary" and all(
        s["role"] == "standby" and s["streaming"] for n, s in sites.items() if n != primary
    )


def listening(root: int, port: int) -> set[str]:
    """The IPv4 addresses on which `root` or a process below it listens at TCP `port`."""
    sockets = set()
    for pid in [root, *processes.descendants(root)]:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        sockets |= {link[8:-1] for link in links if link.startswith("socket:[")}
    out = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        local, state, inode = fields[1], fields[3], fields[9]
        ip, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port and inode in sockets:  # 0A: LISTEN
            out.add(str(ipaddress.IPv4Address(bytes.fromhex(ip)[::-1])))
    return out


def test_three_sites_each_on_its_own_address(lab: LabClient, lab_dir: Path) -> None:
    wait_for(lambda: streams_from(lab, "east"), what="west and north streaming from east")
    status = lab.status()
    assert status["topology"] == "three-site"
    assert {n: s["address"] for n, s in status["sites"].items()} == ADDRESSES
    for name, address in ADDRESSES.items():
        port = lab.state.order_ports[name]
        with urllib.request.urlopen(f"http://{address}:{port}/metrics", timeout=5) as r:
            assert b"lab_orders_total" in r.read()
        # the service listens on its site's address only (read from /proc: another test's
        # process may listen on 127.0.0.1 at the same port number, which is no concern here)
        assert listening(lab.state.supervisor_pid, port) == {address}, name
    assert lab.state.sites == ("east", "west", "north")


def test_a_target_naming_a_site_the_lab_lacks_says_which_it_has(
    lab: LabClient, lab_dir: Path
) -> None:
    with pytest.raises(LabError) as e:
        site(lab_dir, "south", "primary")
    assert "(topology three-site) has no site 'south'; its sites: east, west, north" in str(e.value)


def test_fail_over_to_the_third_site_and_rejoin_the_others(lab: LabClient, lab_dir: Path) -> None:
    east, west, north = (
        site(lab_dir, n, c) for n, c in [("east", "a"), ("west", "b"), ("north", "c")]
    )
    wait_for(lambda: streams_from(lab, "east"), what="healthy three-site lab")
    run = make_run("three")
    handle = inject(east, loss(), "three")
    north.steps.execute(step("lab.promote", "c"), run)
    north.steps.execute(step("lab.route", "c"), run)
    status, ack = post(f"{lab.state.router_url}/orders")
    assert status == 201 and ack["site"] == "north"
    east.faults.remove(handle, run)
    # west still follows the old primary, east came back as a diverged primary: rejoin both
    west.steps.execute(step("lab.rejoin", "b"), run)
    east.steps.execute(step("lab.rejoin", "a"), run)
    wait_for(lambda: streams_from(lab, "north"), what="east and west streaming from north")
    for name in ("east", "west"):
        port = lab.state.order_ports[name]
        wait_for(
            lambda a=ADDRESSES[name], p=port: get(f"http://{a}:{p}/orders/{ack['seq']}")[0] == 200,
            what=f"north's write on {name}",
        )
