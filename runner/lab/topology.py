"""The lab's topology as data: which sites exist, where they listen, how they replicate, and
whether global DNS stands in front of them.

A topology is a small YAML file (`kind: LabTopology`); the shipped ones live in
`runner/lab/topologies/` and are named by their file name (`two-site`, the default,
`sync`, `dns-failover`, `dns-active-active`). `drillctl lab up --topology NAME|FILE` picks
one. Everything that used to be the literals `east` and `west` comes from here, so a
third site or a new pattern is a new file, not an edit of ten modules.

Loading follows the scenario files' rules: every problem at once, each as
`file:line:column: field: message`, before anything is started.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from runner.errors import InvalidInputError, Issue, LabError
from runner.lab.state import Layout, write_json_atomic
from runner.scenario import issues, source
from runner.scenario.model import Metadata, Model, Name
from runner.scenario.values import Duration

TOPOLOGIES_DIR = Path(__file__).parent / "topologies"
DEFAULT_TOPOLOGY = "two-site"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_LABEL = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


class SiteSpec(Model):
    """One site: a database server and an order service, on its own loopback address."""

    name: Name
    address: str = "127.0.0.1"
    """An IPv4 address in 127.0.0.0/8 (all of it is loopback): the site's database, order
    service and replication proxy listen there, and DNS answers point at it."""

    @field_validator("address")
    @classmethod
    def _loopback(cls, value: str) -> str:
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"expected an IPv4 address in 127.0.0.0/8, got {value!r}") from None
        if addr not in LOOPBACK:
            raise ValueError(f"{value} is not in 127.0.0.0/8: the lab only uses loopback")
        return str(addr)


class Replication(Model):
    """How standbys follow the primary."""

    mode: Literal["async", "sync"] = "async"
    synchronous_commit: Literal["on", "remote_write", "remote_apply"] = "remote_apply"
    """sync only: what a commit waits for on the synchronous standby (`remote_apply`: the
    standby has applied it, so a read there already sees it; see docs/patterns)."""
    link_latency: Duration = timedelta(0)
    """A one-way delay on every replication link (regions apart): the WAL stream waits this
    long in the lab's proxy, so a synchronous commit pays it on every write."""

    @field_validator("link_latency")
    @classmethod
    def _short(cls, value: timedelta) -> timedelta:
        if value > timedelta(seconds=1):
            raise ValueError("at most 1s (the lab's streams time out after 10 s)")
        return value


class DnsSpec(Model):
    """Global DNS in front of the sites: an authoritative BIND 9 primary (dynamic updates
    signed with TSIG) and `secondaries` that follow it by NOTIFY and zone transfer."""

    zone: str = "lab.test"
    name: str = Field(default="orders", pattern=_LABEL)
    """The service's name inside the zone (clients resolve `<name>.<zone>`)."""
    ttl: Duration = timedelta(seconds=5)
    strategy: Literal["failover", "round-robin"] = "failover"
    """As k8gb names them: `failover` answers with the active site only, `round-robin` with
    every site while it is healthy."""
    secondaries: int = Field(default=1, ge=0, le=3)
    clients: int = Field(default=2, ge=1, le=8)
    """Clients resolving the name, each with its own TTL-honouring cache; the first is the
    prober, the others generate traffic."""

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        text = value.rstrip(".").lower()
        labels = text.split(".")
        if not text or any(not re.match(_LABEL, label) for label in labels) or len(labels) < 2:
            raise ValueError(f"expected a DNS zone such as 'lab.test', got {value!r}")
        return text

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: timedelta) -> timedelta:
        seconds = value.total_seconds()
        if seconds != int(seconds) or not 1 <= seconds <= 300:
            raise ValueError("a whole number of seconds from 1s to 5m")
        return value

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.zone}"


class TopologySpec(Model):
    sites: list[SiteSpec] = Field(min_length=2, max_length=5)
    primary: Name | None = None
    """The site whose database starts as the primary (default: the first site)."""
    active: Name | None = None
    """Where traffic goes at first (default: the primary's site)."""
    writes: Literal["local", "primary"] = "local"
    """Where each site's order service writes: `local`, its own site's database (refused
    while that is a standby); `primary`, whichever database is the primary (libpq's
    multi-host `target_session_attrs=read-write`, local first), for active-active."""
    replication: Replication = Field(default_factory=Replication)
    dns: DnsSpec | None = None


class Topology(Model):
    api_version: Literal["drill-runner.dev/v1alpha1"]
    kind: Literal["LabTopology"]
    metadata: Metadata
    spec: TopologySpec

    # ------------------------------------------------------------------ views

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def site_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.spec.sites)

    @property
    def primary(self) -> str:
        return self.spec.primary or self.spec.sites[0].name

    @property
    def active(self) -> str:
        return self.spec.active or self.primary

    def address(self, site: str) -> str:
        return self.site(site).address

    def site(self, name: str) -> SiteSpec:
        for s in self.spec.sites:
            if s.name == name:
                return s
        raise KeyError(name)

    def standbys(self) -> tuple[str, ...]:
        return tuple(s for s in self.site_names if s != self.primary)

    @property
    def sync(self) -> bool:
        return self.spec.replication.mode == "sync"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return data


def _problems(topology: Topology) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field problems, each with the path of the value at fault."""
    spec = topology.spec
    names = [s.name for s in spec.sites]
    known = ", ".join(names)
    found: list[tuple[tuple[str | int, ...], str]] = []
    for i, name in enumerate(names):
        if name in names[:i]:
            found.append((("spec", "sites", i, "name"), f"site {name!r} is declared twice"))
    for key in ("primary", "active"):
        value = getattr(spec, key)
        if value is not None and value not in names:
            found.append((("spec", key), f"unknown site {value!r} (sites: {known})"))
    if spec.dns is not None:
        seen: dict[str, str] = {}
        for i, s in enumerate(spec.sites):
            if s.address in seen:
                found.append(
                    (
                        ("spec", "sites", i, "address"),
                        f"{s.address} is also {seen[s.address]}'s address: with DNS every "
                        "site needs its own address (A records point at sites)",
                    )
                )
            seen.setdefault(s.address, s.name)
    if spec.writes == "primary" and spec.replication.mode == "sync":
        found.append(
            (("spec", "writes"), "'primary' writes are for active-active; use 'local' with sync")
        )
    return found


# --------------------------------------------------------------------------- loading


def shipped() -> dict[str, Path]:
    """The topologies that come with drill-runner, by name."""
    return {p.stem: p for p in sorted(TOPOLOGIES_DIR.glob("*.yaml"))}


def resolve(name_or_file: str | None) -> Path:
    """A shipped topology's name, or a file path; InvalidInputError when it is neither."""
    if not name_or_file:
        return shipped()[DEFAULT_TOPOLOGY]
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in name_or_file:
        return path
    known = shipped()
    if name_or_file in known:
        return known[name_or_file]
    raise InvalidInputError(
        [
            Issue(
                file=name_or_file,
                line=1,
                column=1,
                field="",
                message=f"no such topology file or shipped topology (shipped: {', '.join(known)})",
            )
        ]
    )


def load(name_or_file: str | None = None) -> Topology:
    """Load and check a topology; InvalidInputError listing every located problem."""
    return _validate(source.read(resolve(name_or_file)))


def parse_text(text: str, file: str = "<topology>") -> Topology:
    return _validate(source.parse_text(text, file))


def from_json(data: dict[str, Any]) -> Topology:
    """A topology recorded in `lab.json` (checked when the lab started)."""
    topology = Topology.model_validate(data)
    problems = _problems(topology)
    if problems:
        raise ValueError("; ".join(message for _, message in problems))
    return topology


def _validate(src: source.Source) -> Topology:
    data = src.data
    if not isinstance(data, dict):
        pos = src.value_at(())
        raise InvalidInputError(
            [
                Issue(
                    file=src.file,
                    line=pos.line,
                    column=pos.column,
                    field="",
                    message="expected a mapping with apiVersion, kind, metadata and spec",
                )
            ]
        )
    try:
        topology = Topology.model_validate(data)
    except ValidationError as e:
        raise InvalidInputError(issues.from_validation_error(e, src, Topology)) from None
    found = []
    for path, message in _problems(topology):
        pos = src.value_at(path)
        found.append(
            Issue(
                file=src.file,
                line=pos.line,
                column=pos.column,
                field=source.format_path(path),
                message=message,
            )
        )
    if found:
        raise InvalidInputError(found)
    return topology


# --------------------------------------------------------------------------- the state folder's


def recorded_topology(layout: Layout) -> Topology:
    """The topology recorded in the state folder (the default for one from before topologies
    were data)."""
    try:
        data = json.loads(layout.topology_file.read_text())
    except FileNotFoundError:
        return load(DEFAULT_TOPOLOGY)
    except (OSError, ValueError) as e:
        raise LabError(f"cannot read {layout.topology_file}: {e}") from e
    try:
        return from_json(data)
    except (ValidationError, ValueError) as e:
        raise LabError(f"{layout.topology_file} is not a valid topology: {e}") from e


def choose(layout: Layout, requested: str | Topology | None) -> Topology:
    """The topology `lab up` runs in `layout`: the requested one, else the one recorded
    there, else the default. A state folder whose databases were built for other sites
    cannot change topology (InvalidInputError or LabError, before anything starts)."""
    recorded = recorded_topology(layout) if layout.topology_file.exists() else None
    if isinstance(requested, Topology):
        topology = requested
    else:
        topology = load(requested) if requested else recorded or load(DEFAULT_TOPOLOGY)
    built = layout.pg_root.is_dir() and any(
        (d / "PG_VERSION").exists() for d in layout.pg_root.iterdir() if d.is_dir()
    )
    if built:
        before = recorded.site_names if recorded else ("east", "west")
        if set(before) != set(topology.site_names):
            was = f"topology {recorded.name!r}" if recorded else "the two-site topology"
            raise LabError(
                f"{layout.root} holds the databases of {was} (sites {', '.join(before)}), "
                f"not of {topology.name!r} (sites {', '.join(topology.site_names)}): run "
                "`drillctl lab reset --topology ...` or use another --state-dir"
            )
    return topology


def record(layout: Layout, topology: Topology) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(layout.topology_file, topology.to_json())
