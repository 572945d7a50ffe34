"""The lab supervisor (`python -m runner.lab.supervisor --state-dir D`): owns every lab process.

It builds or reuses the two PostgreSQL servers, starts the order services,
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
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from runner.errors import LabError
from runner.lab import postgres
from runner.lab.control import ControlServer
from runner.lab.exporter import DbExporter
from runner.lab.faults import FaultBook
from runner.lab.orders import SCHEMA
from runner.lab.prober import Prober
from runner.lab.prometheus import PrometheusProcess
from runner.lab.proxy import LinkProxy
from runner.lab.roles import Roles, proxy_name
from runner.lab.router import Router
from runner.lab.sites import Site
from runner.lab.state import SITES, LabState, Layout, free_port, read_state, write_json_atomic

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

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        prepare_dirs(layout)
        self.lock = threading.RLock()
        self.done = threading.Event()
        previous = read_state(layout)
        active = previous.active_site if previous else SITES[0]
        self.sites = {
            s: Site(s, layout, db_port=free_port(), order_port=free_port()) for s in SITES
        }
        self.proxies = {
            proxy_name(s): LinkProxy(proxy_name(s), self.sites[s].db.port) for s in SITES
        }
        self.roles = Roles(
            self.sites,
            self.proxies,
            on_promoted=self._record_promotion,
            on_rejoined=self._record_rejoin,
        )
        self.faults = FaultBook(
            self.sites, self.proxies, self.lock, on_healed=lambda: self.router.heal()
        )
        self.registry = CollectorRegistry()
        self.router = Router(
            active=active,
            order_ports={s: self.sites[s].order_port for s in SITES},
            acks=layout.acks,
            registry=self.registry,
            on_switch=lambda _site: self._write_state(),
        )
        self.exporter = DbExporter(
            {s: self.sites[s].db.port for s in SITES}, acknowledged=self.router.acknowledged
        )
        self.registry.register(self.exporter)
        self.prober = Prober(
            router_port=self.router.port, probes=layout.probes, registry=self.registry
        )
        self.metrics_port = free_port()
        self.prometheus = PrometheusProcess(
            layout.prometheus_dir,
            free_port(),
            {
                "supervisor": f"127.0.0.1:{self.metrics_port}",
                **{f"orders-{s}": f"127.0.0.1:{self.sites[s].order_port}" for s in SITES},
            },
        )
        self.control = ControlServer(
            {
                "GET /status": lambda _b: self.status(),
                "GET /faults": lambda _b: [f.to_json() for f in self.faults.snapshot()],
                "POST /faults": lambda b: self.faults.apply(b).to_json(),
                "POST /faults/remove": lambda b: {"removed": self.faults.remove(str(b["id"]))},
                "POST /steps": self.step,
                "POST /shutdown": self._shutdown,
            }
        )
        self.started_at = time.time()

    # ------------------------------------------------------------------ lifecycle

    def up(self) -> None:
        # first: Prometheus only starts scraping about 5 s after it is ready
        self.prometheus.start()
        east, west = (self.sites[s] for s in SITES)
        if not (east.db.data / "PG_VERSION").exists():
            log.info("creating the databases")
            east.db.initdb()
            east.db.start()
            postgres.query(east.db.port, SCHEMA)
            west.db.basebackup_from(east.db.port)
            west.db.make_standby(self.roles.upstream_port(west.name))
            west.db.start()
        else:
            for site in (east, west):
                if site.db.configured_as_standby:
                    site.db.make_standby(self.roles.upstream_port(site.name))
                site.db.start()
        for site in (east, west):
            site.start_orders()
        _server, _thread = start_http_server(self.metrics_port, "127.0.0.1", self.registry)
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

    def _record_rejoin(self, facts: dict[str, Any]) -> None:
        """The lab's own record of how a site rejoined (ground truth of docs/failback.md)."""
        with self.layout.rejoins.open("a") as f:
            f.write(json.dumps({"ts": time.time(), **facts}) + "\n")

    def _write_state(self) -> None:
        state = LabState(
            supervisor_pid=os.getpid(),
            control_url=self.control.url,
            router_url=f"http://127.0.0.1:{self.router.port}",
            metrics_url=f"http://127.0.0.1:{self.metrics_port}/metrics",
            prometheus_url=self.prometheus.url,
            active_site=self.router.active,
            db_ports={s: self.sites[s].db.port for s in SITES},
            order_ports={s: self.sites[s].order_port for s in SITES},
            proxy_ports={name: p.port for name, p in self.proxies.items()},
            started_at=self.started_at,
        )
        write_json_atomic(self.layout.state_file, state.to_json())

    # ------------------------------------------------------------------ control API

    def _shutdown(self, _body: dict[str, Any]) -> dict[str, Any]:
        self.done.set()
        return {"stopping": True}

    def step(self, body: dict[str, Any]) -> dict[str, Any]:
        action, site, timeout = str(body["action"]), str(body["site"]), float(body["timeout"])
        if action not in STEPS or site not in SITES:
            raise LabError(f"unknown lab step {action!r} or site {site!r}")
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
            "routerUrl": f"http://127.0.0.1:{self.router.port}",
            "metricsUrl": f"http://127.0.0.1:{self.metrics_port}/metrics",
            "prometheus": {"url": self.prometheus.url, "pid": self.prometheus.pid},
            "sites": sites,
            "proxies": {name: proxy.status() for name, proxy in self.proxies.items()},
            "faults": [f.to_json() for f in self.faults.snapshot()],
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    supervisor = Supervisor(Layout.of(args.state_dir))
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
