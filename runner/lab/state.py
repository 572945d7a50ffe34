"""The lab's state folder: its layout, `lab.json` (written atomically) and free ports."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

SITES = ("east", "west")
DEFAULT_STATE_DIR = ".drill-lab"


def other_site(site: str) -> str:
    """The site that is not `site`."""
    return SITES[1] if site == SITES[0] else SITES[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
