"""The engine-facing lab: a `TargetBackend` for one lab site, talking to the supervisor.

Lab faults and steps go through the control API; the lock is a file in the
state folder; `observed` computes ground truth from the lab's own records. Times
and waits use the run's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from runner.backends import (
    FaultProvider,
    InjectedFault,
    Leftover,
    PlannedObject,
    PreflightReport,
    RunContext,
    StepExecutor,
    StepResult,
    TargetLock,
)
from runner.errors import FaultError, LabError, StepError
from runner.lab import ground_truth, postgres
from runner.lab.client import LabClient
from runner.lab.lock import SiteLock
from runner.lab.state import DEFAULT_STATE_DIR, LOCAL, Layout
from runner.scenario import model

_RATE_UNITS = {"bps": 1.0, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9}


def lab_state_dir(target: model.Target) -> Path:
    """The state folder of a lab target: its `stateDir` (absolute once loaded: relative
    paths are resolved against the drill's folder), else the default `.drill-lab` of the
    current directory, where `drillctl lab up` starts a lab by default."""
    assert target.lab is not None
    return Path(target.lab.state_dir or DEFAULT_STATE_DIR)


def lab_prometheus_url(state_dir: Path) -> str:
    """The URL of the running lab's Prometheus (for `prometheus: {lab: true}`)."""
    return LabClient.connect(state_dir).state.prometheus_url


@dataclass(frozen=True)
class LabDns:
    """The running lab's global DNS, as DNS steps need it (the secret stays in its file)."""

    zone: str
    servers: tuple[tuple[str, str], ...]
    """(name, host:port) of every authoritative server, the primary (updates) first."""
    key_name: str
    algorithm: str
    secret_file: Path


def lab_dns(state_dir: Path) -> LabDns:
    """The running lab's DNS servers, zone and key; LabError when it runs without DNS."""
    state = LabClient.connect(state_dir).state
    if not state.dns:
        name = state.topology.get("metadata", {}).get("name", "two-site")
        raise LabError(
            f"the lab in {Layout.of(state_dir).root} (topology {name}) has no global DNS; "
            "start it with a DNS topology (drillctl lab up --topology dns-failover)"
        )
    servers = [(str(name), str(info["address"])) for name, info in state.dns["servers"].items()]
    return LabDns(
        zone=str(state.dns["zone"]),
        servers=tuple(sorted(servers, key=lambda s: s[0] != "primary")),
        key_name=str(state.dns["tsig"]["name"]),
        algorithm=str(state.dns["tsig"]["algorithm"]),
        secret_file=Path(state.dns["tsig"]["secretFile"]),
    )


def lab_site_address(state_dir: Path, site: str) -> str:
    """The loopback address a running lab's site listens on (what DNS points at)."""
    return LabClient.connect(state_dir).state.address(site)


def open_lab_target(name: str, target: model.Target, *, drill_dir: Path) -> LabBackend:
    """Bind logical cluster `name` to its lab site; LabError if the lab is not running."""
    if target.lab is None:
        raise LabError(f"target {name!r} is not a lab target")
    state_dir = lab_state_dir(target)
    client = LabClient.connect(state_dir)
    site, sites = target.lab.site, client.state.sites
    if site not in sites:
        topology = client.state.topology.get("metadata", {}).get("name", "two-site")
        raise LabError(
            f"target {name!r}: the lab in {Layout.of(state_dir).root} (topology {topology}) "
            f"has no site {site!r}; its sites: {', '.join(sites)}"
        )
    return LabBackend(name, site, client, Layout.of(state_dir))


def rate_bytes(rate: str) -> float:
    """'1mbps' -> 1e6 bytes per second (Chaos Mesh/tc units are bytes)."""
    for unit in sorted(_RATE_UNITS, key=len, reverse=True):
        if rate.endswith(unit):
            return float(rate[: -len(unit)]) * _RATE_UNITS[unit]
    raise FaultError(f"cannot read bandwidth rate {rate!r}")


LAB_FAULT_TYPES = frozenset({"cluster-loss", "network-partition", "replication-lag"})


def unsupported_here(scenario: model.Scenario, cluster: str) -> list[str]:
    """Faults and steps aimed at this lab cluster that the lab cannot run (found before
    anything is injected; generic steps such as http or sleep run anywhere)."""
    out = [
        f"fault {f.name!r}: the lab cannot inject {f.type!r} faults "
        f"(it can: {', '.join(sorted(LAB_FAULT_TYPES))})"
        for f in scenario.spec.faults
        if f.cluster == cluster and f.type not in LAB_FAULT_TYPES
    ]
    steps = [
        *scenario.steps_of("baseline"),
        *scenario.steps_of("failover"),
        *scenario.steps_of("failback"),
    ]
    out += [
        f"step {s.name!r}: {s.action!r} is a Kubernetes step; the lab runs lab.* steps"
        for s in steps
        if s.cluster == cluster and s.action in model.KUBERNETES_ACTIONS
    ]
    out += [
        f"check {c.name!r}: the lab has no Kubernetes objects to check"
        for c in scenario.spec.preflight
        if c.cluster == cluster
    ]
    return out


class LabFaults:
    """Cluster loss, network partition and replication lag, held by the supervisor."""

    def __init__(self, name: str, site: str, client: LabClient) -> None:
        self.name, self.site, self.client = name, site, client

    def _request(self, fault: model.Fault, run: RunContext) -> dict[str, Any]:
        body: dict[str, Any] = {
            "run_id": run.run_id,
            "fault": fault.name,
            "type": fault.type,
            "site": self.site,
            "duration": fault.duration.total_seconds() if fault.duration else 0.0,
        }
        if isinstance(fault, model.ClusterLossFault):
            body["effect"] = fault.effect
        elif isinstance(fault, model.ReplicationLagFault):
            body["latency"] = fault.delay.latency.total_seconds() if fault.delay else 0.0
            body["rate"] = rate_bytes(fault.bandwidth.rate) if fault.bandwidth else None
        elif not isinstance(fault, model.NetworkPartitionFault):
            raise FaultError(f"the lab cannot inject {fault.type!r} faults (fault {fault.name})")
        return body

    def _handle(self, fault: model.Fault, run: RunContext, at: datetime | None) -> InjectedFault:
        return InjectedFault(
            cluster=self.name,
            fault=fault.name,
            kind=f"lab/{fault.type}",
            name=f"{run.run_id}-{fault.name}",
            namespace=None,
            injected_at=at,
            details=self._request(fault, run),
        )

    def plan(self, fault: model.Fault, run: RunContext) -> list[PlannedObject]:
        h = self._handle(fault, run, None)
        return [
            PlannedObject(
                cluster=self.name,
                fault=fault.name,
                kind=h.kind,
                name=h.name,
                namespace=None,
                manifest=dict(h.details),
            )
        ]

    def inject(
        self, fault: model.Fault, run: RunContext, on_created: Callable[[InjectedFault], None]
    ) -> list[InjectedFault]:
        handle = self._handle(fault, run, None)
        on_created(handle)
        try:
            self.client.apply_fault(dict(handle.details))
            self._confirm(handle)
        except LabError as e:
            raise FaultError(f"lab fault {handle.name}: {e}") from e
        injected = InjectedFault(
            cluster=handle.cluster,
            fault=handle.fault,
            kind=handle.kind,
            name=handle.name,
            namespace=None,
            injected_at=run.clock.now(),
            details=handle.details,
        )
        run.log("lab.fault.injected", {"name": handle.name, "kind": handle.kind, "site": self.site})
        return [injected]

    def _confirm(self, handle: InjectedFault) -> None:
        status = self.client.status()
        if handle.name not in {f["id"] for f in status["faults"]}:
            raise FaultError(f"lab fault {handle.name} is not active after injection")
        kind, details = handle.kind, handle.details
        db = status["sites"][self.site]["db"]
        if kind == "lab/cluster-loss":
            ok = db["frozen"] if details.get("effect") == "hang" else not db["running"]
        elif kind == "lab/network-partition":
            ok = all(p["severed"] for p in status["proxies"].values())
        else:
            ok = any(
                p["latency"] > p.get("baseLatency", 0.0) or p["rate"]
                for p in status["proxies"].values()
            )
        if not ok:
            raise FaultError(f"lab fault {handle.name} is not in effect")

    def remove(self, fault: InjectedFault, run: RunContext) -> None:
        try:
            self.client.remove_fault(fault.name)
        except LabError as e:
            raise FaultError(f"could not remove lab fault {fault.name}: {e}") from e
        run.log("lab.fault.removed", {"name": fault.name, "site": self.site})

    def sweep(self, *, run_id: str | None, older_than_seconds: float | None) -> list[Leftover]:
        now = time.time()
        return [
            Leftover(
                cluster=self.name,
                kind=f"lab/{f['type']}",
                name=f["id"],
                namespace=None,
                run_id=f["run_id"],
                created_at=datetime.fromtimestamp(f["created_at"], UTC),
            )
            for f in self.client.faults()
            if f["site"] == self.site
            and (run_id is None or f["run_id"] == run_id)
            and (older_than_seconds is None or now - f["created_at"] >= older_than_seconds)
        ]

    def remove_leftover(
        self, leftover: Leftover, *, force: bool, timeout: float | None = None
    ) -> None:
        try:
            self.client.remove_fault(leftover.name)
        except LabError as e:
            raise FaultError(f"could not remove lab fault {leftover.name}: {e}") from e


class LabSteps:
    """lab.promote, lab.route, lab.rejoin and lab.switchover on this site."""

    def __init__(self, site: str, client: LabClient) -> None:
        self.site, self.client = site, client

    def supports(self, action: str) -> bool:
        return action in model.LAB_ACTIONS

    def execute(self, step: model.Step, run: RunContext) -> StepResult:
        if not self.supports(step.action):
            raise StepError(f"the lab cannot run step action {step.action!r}")
        try:
            output = self.client.step(step.action, self.site, step.timeout.total_seconds())
        except LabError as e:
            raise StepError(str(e)) from e
        return StepResult(output=output, details={"site": self.site, "action": step.action})


class LabBackend:
    """One lab site bound to a logical cluster."""

    def __init__(self, name: str, site: str, client: LabClient, layout: Layout) -> None:
        self.name, self.site, self.client, self.layout = name, site, client, layout
        self.description = f"lab site {site}"
        self.faults: FaultProvider = LabFaults(name, site, client)
        self.steps: StepExecutor = LabSteps(site, client)
        self.site_lock = SiteLock(name, layout.locks / f"{site}.lock")
        self.lock: TargetLock = self.site_lock

    def preflight(self, scenario: model.Scenario, run: RunContext) -> PreflightReport:
        try:
            status = self.client.status()
        except LabError as e:
            return PreflightReport(cluster=self.name, missing=(str(e),))
        site = status["sites"][self.site]
        missing = []
        if site["role"] not in ("primary", "standby"):
            missing.append(f"database of site {self.site} is {site['role']}")
        if not site["orders"]["running"]:
            missing.append(f"order service of site {self.site} is not running")
        if status["prometheus"]["pid"] is None:
            missing.append("the lab's Prometheus is not running")
        missing += unsupported_here(scenario, self.name)
        notes = (f"site {self.site} is {site['role']}", f"traffic goes to {status['activeSite']}")
        return PreflightReport(cluster=self.name, missing=tuple(missing), notes=notes)

    def _primary_rows(self, since: float) -> list[tuple[str, int, float]] | None:
        status = self.client.status()
        sites = status["sites"]
        order = [status["activeSite"], *(s for s in sites if s != status["activeSite"])]
        for site in order:
            if sites[site]["role"] == "primary":
                rows = postgres.query(
                    sites[site]["db"]["port"],
                    "SELECT origin, seq, extract(epoch FROM created_at) FROM orders "
                    f"WHERE created_at >= to_timestamp({since:.6f})",
                    timeout=10,
                    host=sites[site].get("address", LOCAL),
                )
                return [(str(o), int(s), float(t)) for o, s, t in rows]
        return None

    def observed(
        self, *, fault_start: datetime, hold_seconds: float, until: datetime
    ) -> Mapping[str, Any] | None:
        start = fault_start.timestamp()
        try:
            rows = self._primary_rows(start - ground_truth.ACK_LOOKBACK - 1)
        except (LabError, psycopg.Error):
            rows = None
        result = ground_truth.observe(
            probes_file=self.layout.probes,
            acks_file=self.layout.acks,
            promotions_file=self.layout.promotions,
            commits_file=self.layout.commits,
            answers_file=self.layout.dns_answers,
            faults_file=self.layout.applied_faults,
            rows=rows or [],
            fault_start=start,
            hold_seconds=hold_seconds,
            until=until.timestamp(),
        )
        if rows is None:
            result.update(lostWrites=None, lostWindowSeconds=None)
        return result

    def observed_failback(
        self, *, timeline: Mapping[str, datetime], hold_seconds: float, until: datetime
    ) -> Mapping[str, Any] | None:
        def at(key: str) -> float | None:
            value = timeline.get(key)
            return None if value is None else value.timestamp()

        fault_start, failback_start = at("faultStart"), at("failbackStarted")
        if fault_start is None or failback_start is None:
            return None
        try:
            rows = self._primary_rows(fault_start - ground_truth.ACK_LOOKBACK - 1)
        except (LabError, psycopg.Error):
            rows = None
        return ground_truth.observe_failback(
            probes_file=self.layout.probes,
            acks_file=self.layout.acks,
            promotions_file=self.layout.promotions,
            rejoins_file=self.layout.rejoins,
            rows=rows,
            site=self.site,
            fault_start=fault_start,
            failback_start=failback_start,
            hold_seconds=hold_seconds,
            until=until.timestamp(),
        )

    def close(self) -> None:
        pass
