"""The lab supervisor (`python -m runner.lab.supervisor --state-dir D`): owns every lab process.

It runs the topology recorded in `D/topology.json` (written by `lab up`). It builds or
reuses the sites' PostgreSQL servers, starts the order services,
proxies, router, prober, exporter and Prometheus, writes `D/lab.json` once all
of it is ready, serves the control API, and on shutdown (SIGTERM or
`POST /shutdown`) stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from runner.errors import LabError
from runner.lab.control import ControlServer
from runner.lab.dns import DnsService
from runner.lab.exporter import DbExporter
from runner.lab.faults import FaultBook
from runner.lab.orders import SCHEMA
from runner.lab.prober import Client, Prober, RouterClient
from runner.lab.prometheus import PrometheusProcess
from runner.lab.proxy import LinkProxy, Shape
from runner.lab.resolver import CachingResolver, DnsClient, DnsWatcher, ResolutionLog
from runner.lab.roles import Roles, proxy_name
from runner.lab.router import Router
from runner.lab.sites import Site
from runner.lab.state import (
    LOCAL,
    LabState,
    Layout,
    free_port,
    free_port_on_all,
    read_state,
    write_json_atomic,
)
from runner.lab.topology import Topology, recorded_topology

log = logging.getLogger(__name__)
STEPS = ("lab.promote", "lab.route", "lab.rejoin", "lab.switchover", "lab.fence")


def prepare_dirs(layout: Layout) -> None:
    """Create the state folder; the postgres user must be able to reach the data folders."""
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.pg_root.mkdir(exist_ok=True)
    for parent in [layout.pg_root, *layout.pg_root.parents]:
        if os.geteuid() == 0 and parent != layout.pg_root and not parent.stat().st_mode & 0o001:
            raise LabError(f"{parent} is not traversable by the postgres user (chmod o+x or 0755)")
    if os.geteuid() == 0:
        layout.pg_root.chmod(0o755)
        shutil.chown(layout.pg_root, "postgres", "postgres")


class Supervisor:
    """Everything the lab runs, started in order and stopped in reverse."""

    def __init__(self, layout: Layout, topology: Topology) -> None:
        self.layout, self.topology = layout, topology
        prepare_dirs(layout)
        self.lock = threading.RLock()
        self.done = threading.Event()
        previous = read_state(layout)
        names = topology.site_names
        active = previous.active_site if previous and previous.active_site in names else None
        addresses = {s: topology.address(s) for s in names}
        shared_port = (
            free_port_on_all(list(addresses.values())) if topology.spec.dns is not None else None
        )
        self.sites = self._make_sites(addresses, shared_port)
        base = Shape(latency=topology.spec.replication.link_latency.total_seconds())
        self.proxies = {
            proxy_name(s): LinkProxy(proxy_name(s), site.db.port, site.address, base)
            for s, site in self.sites.items()
        }
        self.roles = Roles(
            self.sites,
            self.proxies,
            primary=self._initial_primary(active),
            sync=topology.sync,
            on_promoted=self._record_promotion,
            on_rejoined=self._record_rejoin,
            active=lambda: self.router.active,
        )
        self.faults = FaultBook(
            self.sites,
            self.proxies,
            self.lock,
            self.roles.upstream_proxy,
            on_healed=lambda: self.router.heal(),
        )
        self.registry = CollectorRegistry()
        self.router = Router(
            active=active or topology.active,
            orders={s: (site.address, site.order_port) for s, site in self.sites.items()},
            acks=layout.acks,
            registry=self.registry,
            on_switch=lambda _site: self._write_state(),
        )
        self.exporter = DbExporter(
            {s: (site.address, site.db.port) for s, site in self.sites.items()},
            upstream_of=self.roles.upstream.get,
            acknowledged=self.router.acknowledged,
        )
        self.registry.register(self.exporter)
        self.prober = Prober(
            clients=self._make_dns(shared_port),
            probes=layout.probes,
            registry=self.registry,
            on_ack=None if self.dns is None else self._client_ack,
        )
        self.metrics_port = free_port()
        self.prometheus = self._make_prometheus()
        self.control = ControlServer(
            {
                "GET /status": lambda _b: self.status(),
                "GET /faults": lambda _b: [f.to_json() for f in self.faults.snapshot()],
                "POST /faults": self._apply_fault,
                "POST /faults/remove": lambda b: {"removed": self.faults.remove(str(b["id"]))},
                "POST /steps": self.step,
                "POST /shutdown": self._shutdown,
            }
        )
        self.started_at = time.time()

    def _make_sites(self, addresses: dict[str, str], shared_port: int | None) -> dict[str, Site]:
        """One site per topology site on its own address; with global DNS every site's
        order service listens on the one port the service name is reached at."""
        return {
            s: Site(
                s,
                self.layout,
                address=address,
                db_port=free_port(address),
                order_port=shared_port or free_port(address),
                order_args=lambda s=s: self._order_args(s),  # type: ignore[misc]
                db_settings=self._db_settings(),
            )
            for s, address in addresses.items()
        }

    def _make_dns(self, shared_port: int | None) -> list[Client]:
        """The prober's clients: the router alone, or (a topology with global DNS) the DNS
        service, its watcher and clients that resolve the service name themselves."""
        self.dns: DnsService | None = None
        self.watcher: DnsWatcher | None = None
        self.resolutions: ResolutionLog | None = None
        dns_spec = self.topology.spec.dns
        if dns_spec is None or shared_port is None:
            return [RouterClient(self.router.port)]
        self.dns = DnsService(self.layout.dns_dir, dns_spec)
        servers = self.dns.servers
        self.resolutions = ResolutionLog(self.layout.resolutions)
        by_address = {site.address: s for s, site in self.sites.items()}
        clients: list[Client] = [
            DnsClient(
                f"client-{i + 1}",
                CachingResolver(list(servers), prefer=i),
                dns_spec.fqdn,
                shared_port,
                by_address,
                self.resolutions,
            )
            for i in range(dns_spec.clients)
        ]
        self.watcher = DnsWatcher(servers, dns_spec.fqdn, self.layout.dns_answers)
        self.registry.register(self.watcher)
        return clients

    def _make_prometheus(self) -> PrometheusProcess:
        """The lab's Prometheus, scraping the supervisor and every site's order service."""
        return PrometheusProcess(
            self.layout.prometheus_dir,
            free_port(),
            {
                "supervisor": f"{LOCAL}:{self.metrics_port}",
                **{
                    f"orders-{s}": f"{site.address}:{site.order_port}"
                    for s, site in self.sites.items()
                },
            },
        )

    def _client_ack(self, body: Mapping[str, Any]) -> None:
        self.router.record_ack(str(body.get("site")), body)

    def dns_addresses(self) -> list[str]:
        """What the service name answers at start: the active site (failover), or every
        site (round-robin)."""
        dns_spec = self.topology.spec.dns
        if dns_spec is not None and dns_spec.strategy == "round-robin":
            return [site.address for site in self.sites.values()]
        return [self.sites[self.router.active].address]

    def _initial_primary(self, active: str | None) -> str:
        """The site standbys follow: the topology's primary for new databases; for existing
        ones, the site whose server is not a standby (the active one if several are)."""
        names = self.topology.site_names
        if not (self.sites[names[0]].db.data / "PG_VERSION").exists():
            return self.topology.primary
        primaries = [s for s in names if not self.sites[s].db.configured_as_standby]
        if not primaries:
            raise LabError(f"every database in {self.layout.pg_root} is a standby; lab reset")
        return active if active in primaries else primaries[0]

    def _db_settings(self) -> dict[str, str]:
        replication = self.topology.spec.replication
        return {"synchronous_commit": replication.synchronous_commit} if self.topology.sync else {}

    def _order_args(self, site: str) -> list[str]:
        """Where the order service of `site` writes: its own database, or (writes: primary)
        whichever is the primary, its own first; how its commits are labelled; with
        synchronous replication, a second stream of asynchronous commits to compare."""
        own = self.sites[site]
        databases = [own] + (
            [o for o in self.sites.values() if o is not own]
            if self.topology.spec.writes == "primary"
            else []
        )
        args = [arg for d in databases for arg in ("--db", f"{d.address}:{d.db.port}")]
        args += ["--commits", str(self.layout.commits)]
        if self.topology.sync:
            args += ["--commit", "sync", "--compare-async"]
        return args

    # ------------------------------------------------------------------ lifecycle

    def up(self) -> None:
        # first: Prometheus only starts scraping about 5 s after it is ready
        self.prometheus.start()
        names = self.topology.site_names
        if not (self.sites[names[0]].db.data / "PG_VERSION").exists():
            log.info("creating the databases of topology %s", self.topology.name)
            primary = self.sites[self.topology.primary]
            primary.db.initdb()
            primary.db.start()
            for name in self.topology.standbys():
                site = self.sites[name]
                site.db.basebackup_from(primary.address, primary.db.port)
                self.roles.configure_standby(name, primary.name)
                site.db.start()
        else:
            for name, site in self.sites.items():
                if site.db.configured_as_standby:
                    self.roles.configure_standby(name, self.roles.upstream[name])
                else:  # a primary (two after a failover with no rejoin: a split brain)
                    self.roles.upstream.pop(name, None)
                site.db.start()
        for name, site in self.sites.items():
            if self.roles.role(name) == "primary":
                site.db.query(SCHEMA)  # a folder from an older lab may lack a table
                self.roles.apply_sync(name)
        for site in self.sites.values():
            site.start_orders()
        if self.dns is not None and self.watcher is not None:
            self.dns.start(self.dns_addresses())
            self.watcher.start()
        _server, _thread = start_http_server(self.metrics_port, LOCAL, self.registry)
        self.exporter.start()
        self.router.start()
        self.prober.start()
        self.faults.start()
        self.control.start()
        self._write_state()
        log.info("lab ready; control API on %s", self.control.url)

    def down(self) -> None:
        log.info("stopping the lab")
        with self.lock:
            self.faults.stop()
            self.prober.stop()
            if self.watcher is not None:
                self.watcher.stop()
            if self.resolutions is not None:
                self.resolutions.close()
            if self.dns is not None:
                self.dns.stop()
            self.router.stop()
            self.exporter.stop()
            for proxy in self.proxies.values():
                proxy.close()
            self.prometheus.stop()
            for site in self.sites.values():
                site.stop()
            self.control.stop()
        log.info("lab stopped")

    def _record_promotion(self, site: str) -> None:
        """Ground truth needs to know when data could last have been lost (see ground_truth)."""
        with self.layout.promotions.open("a") as f:
            f.write(json.dumps({"ts": time.time(), "site": site}) + "\n")

    def _apply_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a fault and keep the lab's own record of when it was applied (the ground
        truth of when a failure could first be seen: the runner confirms it later)."""
        fault = self.faults.apply(body)
        with self.layout.applied_faults.open("a") as f:
            f.write(
                json.dumps(
                    {"ts": fault.created_at, "id": fault.id, "type": fault.type, "site": fault.site}
                )
                + "\n"
            )
        return fault.to_json()

    def _record_rejoin(self, facts: dict[str, Any]) -> None:
        """The lab's own record of how a site rejoined (ground truth of docs/failback.md)."""
        with self.layout.rejoins.open("a") as f:
            f.write(json.dumps({"ts": time.time(), **facts}) + "\n")

    def _write_state(self) -> None:
        state = LabState(
            supervisor_pid=os.getpid(),
            control_url=self.control.url,
            router_url=f"http://{LOCAL}:{self.router.port}",
            metrics_url=f"http://{LOCAL}:{self.metrics_port}/metrics",
            prometheus_url=self.prometheus.url,
            active_site=self.router.active,
            db_ports={s: site.db.port for s, site in self.sites.items()},
            order_ports={s: site.order_port for s, site in self.sites.items()},
            proxy_ports={name: p.port for name, p in self.proxies.items()},
            started_at=self.started_at,
            topology=self.topology.to_json(),
            addresses={s: site.address for s, site in self.sites.items()},
            dns=None if self.dns is None else self.dns.status(),
        )
        write_json_atomic(self.layout.state_file, state.to_json())

    # ------------------------------------------------------------------ control API

    def _shutdown(self, _body: dict[str, Any]) -> dict[str, Any]:
        self.done.set()
        return {"stopping": True}

    def step(self, body: dict[str, Any]) -> dict[str, Any]:
        action, site, timeout = str(body["action"]), str(body["site"]), float(body["timeout"])
        if action not in STEPS or site not in self.sites:
            raise LabError(f"unknown lab step {action!r} or site {site!r}")
        if action == "lab.route" and self.dns is not None:
            raise LabError(
                f"topology {self.topology.name!r} routes traffic by DNS: change the record "
                "with a dns.update step instead of lab.route"
            )
        with self.lock:
            if action == "lab.route":
                partitioned = self.faults.partitioned
                self.router.route(site, partitioned=partitioned)
                output = f"traffic now goes to {site}"
                if self.router.stranded is not None:
                    output += (
                        f"; the clients cut off by the partition still write to"
                        f" {self.router.stranded}"
                    )
            elif action == "lab.fence":
                output = self.roles.fence(site)
            elif action == "lab.promote":
                output = self.roles.promote(site, timeout)
            elif action == "lab.rejoin":
                output = self.roles.rejoin(site, timeout)
            else:
                output = self.roles.switchover(site, timeout)
        log.info("%s %s: %s", action, site, output)
        return {"output": output}

    def status(self) -> dict[str, Any]:
        sites: dict[str, Any] = {}
        for name, site in self.sites.items():
            snap = self.exporter.fresh(name)
            info = site.status()
            info["role"] = self.roles.role(name)
            info["streaming"] = bool(snap and snap.receiver == "streaming")
            lag_bytes, lag_seconds = self.exporter.lag(name, snap) if snap else (None, None)
            info["lag"] = {"bytes": lag_bytes, "seconds": lag_seconds}
            sites[name] = info
        return {
            "supervisor": {"pid": os.getpid(), "control": self.control.url},
            "activeSite": self.router.active,
            "topology": self.topology.name,
            "routerUrl": f"http://{LOCAL}:{self.router.port}",
            "metricsUrl": f"http://{LOCAL}:{self.metrics_port}/metrics",
            "prometheus": {"url": self.prometheus.url, "pid": self.prometheus.pid},
            "sites": sites,
            "proxies": {name: proxy.status() for name, proxy in self.proxies.items()},
            "faults": [f.to_json() for f in self.faults.snapshot()],
            **(
                {"dns": {**self.dns.status(), "answers": self.watcher.answers()}}
                if self.dns is not None and self.watcher is not None
                else {}
            ),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    layout = Layout.of(args.state_dir)
    supervisor = Supervisor(layout, recorded_topology(layout))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: supervisor.done.set())
    try:
        supervisor.up()
        supervisor.done.wait()
    except Exception:
        log.exception("the lab failed")
        raise
    finally:
        supervisor.down()


if __name__ == "__main__":
    main()
