"""The lab's state folder: its layout, `lab.json` (written atomically) and free ports."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_STATE_DIR = ".drill-lab"
LOCAL = "127.0.0.1"


def free_port(address: str = LOCAL) -> int:
    """A TCP port on `address` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def free_port_on_all(addresses: list[str], tries: int = 50) -> int:
    """A TCP port free on every one of `addresses` a moment ago (DNS answers carry no port,
    so every site serves on the same one)."""
    for _ in range(tries):
        port = free_port(addresses[0])
        try:
            for address in addresses[1:]:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((address, port))
        except OSError:
            continue
        return port
    raise OSError(f"no port free on all of {', '.join(addresses)}")


@dataclass(frozen=True)
class Layout:
    """Where everything lives inside one state folder."""

    root: Path

    @classmethod
    def of(cls, state_dir: str | os.PathLike[str]) -> Layout:
        return cls(Path(state_dir).absolute())

    @property
    def state_file(self) -> Path:
        return self.root / "lab.json"

    @property
    def log_file(self) -> Path:
        return self.root / "supervisor.log"

    @property
    def acks(self) -> Path:
        return self.root / "acks.jsonl"

    @property
    def probes(self) -> Path:
        return self.root / "probes.jsonl"

    @property
    def promotions(self) -> Path:
        return self.root / "promotions.jsonl"

    @property
    def rejoins(self) -> Path:
        return self.root / "rejoins.jsonl"

    @property
    def applied_faults(self) -> Path:
        """When each fault was applied (ground truth: when it began to bite)."""
        return self.root / "faults.jsonl"

    @property
    def pg_root(self) -> Path:
        return self.root / "pg"

    def pg_data(self, site: str) -> Path:
        return self.pg_root / site

    def pg_log(self, site: str) -> Path:
        return self.pg_root / f"{site}.log"

    def orders_log(self, site: str) -> Path:
        return self.root / f"orders-{site}.log"

    @property
    def prometheus_dir(self) -> Path:
        return self.root / "prometheus"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def topology_file(self) -> Path:
        """The topology this state folder's databases were built for."""
        return self.root / "topology.json"

    @property
    def dns_dir(self) -> Path:
        return self.root / "dns"

    @property
    def resolutions(self) -> Path:
        """Every DNS lookup the lab's clients made (the DNS ground truth)."""
        return self.root / "resolutions.jsonl"

    @property
    def dns_answers(self) -> Path:
        """What each authoritative server answered, polled by the lab (the DNS ground truth)."""
        return self.root / "dns-answers.jsonl"

    @property
    def commits(self) -> Path:
        """Commit latencies measured by the order services (sync and async)."""
        return self.root / "commits.jsonl"


@dataclass(frozen=True, kw_only=True)
class LabState:
    """What `lab.json` records: ports, URLs and the supervisor, for clients to find them."""

    supervisor_pid: int
    control_url: str
    router_url: str
    metrics_url: str
    prometheus_url: str
    active_site: str
    db_ports: dict[str, int]
    order_ports: dict[str, int]
    proxy_ports: dict[str, int]
    started_at: float
    topology: dict[str, Any] = field(default_factory=dict)
    """The topology the lab runs (`runner.lab.topology`); empty in a lab.json written before
    topologies were data, which was always the default two-site lab."""
    addresses: dict[str, str] = field(default_factory=dict)
    dns: dict[str, Any] | None = None
    """With global DNS: the authoritative servers (`servers`: name -> host:port), the zone,
    the service name and the TSIG key's name and file."""

    @property
    def sites(self) -> tuple[str, ...]:
        """The site names in the topology's order."""
        if self.topology:
            return tuple(str(s["name"]) for s in self.topology["spec"]["sites"])
        return tuple(self.db_ports)

    def address(self, site: str) -> str:
        return self.addresses.get(site, LOCAL)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` so a reader sees either the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_state(layout: Layout) -> LabState | None:
    """The recorded state, or None when the lab has never been started here."""
    try:
        return LabState.from_json(json.loads(layout.state_file.read_text()))
    except FileNotFoundError:
        return None
