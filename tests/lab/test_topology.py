"""Lab topologies as data: the shipped ones, located errors for bad files, and the state
folder's rule (databases built for some sites are never reused for others). No lab runs here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.errors import InvalidInputError, LabError
from runner.lab import topology
from runner.lab.state import LabState, Layout

HEAD = """apiVersion: drill-runner.dev/v1alpha1
kind: LabTopology
metadata: {name: t}
"""


def issues_of(text: str) -> list[str]:
    with pytest.raises(InvalidInputError) as e:
        topology.parse_text(HEAD + text, "t.yaml")
    return [str(i) for i in e.value.issues]


def test_the_shipped_topologies_load_and_the_default_is_the_two_site_lab() -> None:
    shipped = topology.shipped()
    assert set(shipped) == {"two-site", "sync", "dns-failover", "dns-active-active"}
    default = topology.load(None)
    assert default.name == "two-site"
    assert default.site_names == ("east", "west")
    assert default.primary == "east" and default.active == "east"
    assert default.standbys() == ("west",)
    assert not default.sync and default.spec.dns is None
    assert {s.address for s in default.spec.sites} == {"127.0.0.1"}
    sync = topology.load("sync")
    assert sync.sync and sync.spec.replication.synchronous_commit == "remote_apply"
    for name, strategy in (("dns-failover", "failover"), ("dns-active-active", "round-robin")):
        dns = topology.load(name).spec.dns
        assert dns is not None and dns.fqdn == "orders.lab.test" and dns.strategy == strategy
        assert len({s.address for s in topology.load(name).spec.sites}) == 2


def test_a_third_site_is_a_line_of_data() -> None:
    t = topology.parse_text(
        HEAD + "spec:\n  sites: [{name: east}, {name: west}, {name: north}]\n  primary: west\n"
    )
    assert t.site_names == ("east", "west", "north")
    assert t.primary == "west" and t.standbys() == ("east", "north")


def test_unknown_sites_are_located() -> None:
    found = issues_of(
        "spec:\n  sites:\n    - name: east\n    - name: west\n  primary: north\n  active: south\n"
    )
    assert found == [
        "t.yaml:8:12: spec.primary: unknown site 'north' (sites: east, west)",
        "t.yaml:9:11: spec.active: unknown site 'south' (sites: east, west)",
    ]


def test_every_problem_at_once_each_at_its_place() -> None:
    found = issues_of(
        "spec:\n"
        "  sites:\n"
        "    - {name: east, address: 10.1.2.3}\n"
        "    - {name: West}\n"
        "  replication: {mode: semi, linkLatency: 5s}\n"
        "  dns: {zone: 'not a zone', ttl: 1.5s, strategy: geo, typo: 1}\n"
    )
    assert [f.split(": ", 2)[:2] for f in found] == [
        ["t.yaml:6:29", "spec.sites[0].address"],
        ["t.yaml:7:14", "spec.sites[1].name"],
        ["t.yaml:8:23", "spec.replication.mode"],
        ["t.yaml:8:42", "spec.replication.linkLatency"],
        ["t.yaml:9:15", "spec.dns.zone"],
        ["t.yaml:9:34", "spec.dns.ttl"],
        ["t.yaml:9:50", "spec.dns.strategy"],
        ["t.yaml:9:55", "spec.dns.typo"],
    ]
    text = "\n".join(found)
    assert "10.1.2.3 is not in 127.0.0.0/8: the lab only uses loopback" in text
    assert "expected 'async' or 'sync', got 'semi'" in text
    assert "linkLatency: at most 1s" in text
    assert "expected a DNS zone such as 'lab.test', got 'not a zone'" in text
    assert "ttl: a whole number of seconds from 1s to 5m" in text
    assert "expected 'failover' or 'round-robin', got 'geo'" in text


def test_sites_behind_dns_need_their_own_addresses() -> None:
    found = issues_of(
        "spec:\n"
        "  sites: [{name: east, address: 127.0.5.1}, {name: west, address: 127.0.5.1}]\n"
        "  dns: {}\n"
    )
    assert len(found) == 1
    assert found[0].startswith("t.yaml:5:67: spec.sites[1].address: 127.0.5.1 is also east's")


def test_duplicate_sites_and_one_site_are_refused() -> None:
    assert issues_of("spec:\n  sites: [{name: a}, {name: a}]\n") == [
        "t.yaml:5:29: spec.sites[1].name: site 'a' is declared twice"
    ]
    (only,) = issues_of("spec:\n  sites: [{name: a}]\n")
    assert only.startswith("t.yaml:5:10: spec.sites: ")


def test_a_name_that_is_neither_shipped_nor_a_file_lists_the_shipped_ones() -> None:
    with pytest.raises(InvalidInputError) as e:
        topology.load("three-site")
    assert "no such topology file or shipped topology (shipped: " in str(e.value)
    with pytest.raises(InvalidInputError) as e:
        topology.load("/nonexistent/t.yaml")
    assert str(e.value).startswith("/nonexistent/t.yaml:1:1: cannot read the file")


def test_a_state_folder_built_for_other_sites_is_not_reused(tmp_path: Path) -> None:
    layout = Layout.of(tmp_path / "lab")
    (layout.pg_data("east")).mkdir(parents=True)
    (layout.pg_data("east") / "PG_VERSION").write_text("15\n")
    # built before topologies were data: the two-site lab
    assert topology.choose(layout, None).name == "two-site"
    assert topology.choose(layout, "sync").name == "sync"  # same sites, other replication
    other = tmp_path / "three.yaml"
    other.write_text(HEAD + "spec:\n  sites: [{name: a}, {name: b}, {name: c}]\n")
    with pytest.raises(LabError) as e:
        topology.choose(layout, str(other))
    assert "holds the databases of the two-site topology (sites east, west), not of 't'" in str(
        e.value
    )
    topology.record(layout, topology.load("sync"))
    assert topology.recorded_topology(layout).name == "sync"
    assert topology.choose(layout, None).name == "sync"  # what the folder was built with


def test_a_lab_json_from_before_topologies_names_its_two_sites() -> None:
    old = {
        "supervisor_pid": 1,
        "control_url": "http://127.0.0.1:1",
        "router_url": "",
        "metrics_url": "",
        "prometheus_url": "",
        "active_site": "east",
        "db_ports": {"east": 1, "west": 2},
        "order_ports": {"east": 3, "west": 4},
        "proxy_ports": {},
        "started_at": 0.0,
    }
    state = LabState.from_json(json.loads(json.dumps(old)))
    assert state.sites == ("east", "west") and state.address("west") == "127.0.0.1"


def test_lab_up_with_a_bad_topology_file_starts_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "spec:\n  sites: [{name: east}, {name: west}]\n  primary: north\n")
    state_dir = tmp_path / "lab"
    args = ["lab", "up", "--state-dir", str(state_dir), "--topology", str(bad)]
    out = subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert f"{bad}:6:12: spec.primary: unknown site 'north' (sites: east, west)" in out.stderr
    assert "Traceback" not in out.stderr
    assert not state_dir.exists()
