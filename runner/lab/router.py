"""The router: client `POST /orders` goes to the active site's order service.

It is the source of truth for acknowledgements: every ack it relays is appended
to `acks.jsonl` (site, seq, ts) and kept in gauges that hold their value after
the site dies. It is also the canary's writer: it remembers the writes each site
acknowledged since traffic was last routed to that site (`acknowledged`), so the
exporter can check them against the other site (the canary contract of
docs/measurement.md, `missing` form), and counts them per site (`lab_router_acks_total`).
A route change made during a partition does not reach the clients cut off with the old
site: they keep writing there until the partition heals (a split brain, docs/failback.md).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

FORWARD_TIMEOUT = 2.0
ACK_MEMORY = 600.0
"""Acknowledged writes older than this are forgotten (a drill's loss is checked sooner)."""


class Router:
    """Forwards writes to one site at a time; `active` is switched by the control API."""

    def __init__(
        self,
        *,
        active: str,
        orders: dict[str, tuple[str, int]],
        acks: Path,
        registry: CollectorRegistry,
        on_switch: Callable[[str], None],
    ) -> None:
        self.active = active
        self.orders = orders
        """site -> (host, port) of its order service."""
        self._on_switch = on_switch
        self._acks = acks.open("a", buffering=1)
        self._lock = threading.Lock()
        self._epoch: dict[str, deque[tuple[int, float]]] = {s: deque() for s in orders}
        self._seq = Gauge(
            "lab_router_last_ack_seq",
            "Last seq acked through the router",
            ["site"],
            registry=registry,
        )
        self._ts = Gauge(
            "lab_router_last_ack_timestamp_seconds",
            "Service time of the last write acked through the router",
            ["site"],
            registry=registry,
        )
        self._count = Counter(
            "lab_router_acks",
            "Writes acknowledged through the router, per acknowledging site (the writer's"
            " count: the split-brain counter of docs/failback.md)",
            ["site"],
            registry=registry,
        )
        for s in orders:
            self._count.labels(s)  # 0 from the start: a sample before any split brain
        self.stranded: str | None = None
        """The site the clients cut off by a partition still write to (see `route`)."""
        self._turn = False
        self._active = Gauge(
            "lab_router_active_site",
            "1 for the site receiving traffic",
            ["site"],
            registry=registry,
        )
        self._show_active()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="router", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            self._acks.close()

    def route(self, site: str, *, partitioned: bool = False) -> None:
        """Send traffic to `site`. During a partition (`partitioned`) the change does not
        reach the clients on the far side: half the writes (those clients) keep going to
        the site that was active, until `heal` (a split brain, unless it is fenced)."""
        with self._lock:
            # a new epoch for `site`: what it acknowledged before was checked in its drill
            self._epoch[site].clear()
            if partitioned and site != self.active:
                self.stranded = self.active
            elif self.stranded == site:
                self.stranded = None
        self.active = site
        self._show_active()
        self._on_switch(site)

    def heal(self) -> None:
        """The partition is gone: every client follows the route again."""
        with self._lock:
            self.stranded = None

    def acknowledged(self, site: str, since: float) -> list[tuple[int, float]]:
        """(seq, writer's ts) of the writes `site` acknowledged in its current epoch,
        from `since` (unix seconds) on, in the order they were acknowledged."""
        with self._lock:
            return [(seq, ts) for seq, ts in self._epoch[site] if ts >= since]

    def _show_active(self) -> None:
        for s in self.orders:
            self._active.labels(s).set(1 if s == self.active else 0)

    def forward(self) -> tuple[int, dict[str, Any]]:
        site = self.active
        with self._lock:
            if self.stranded is not None:
                self._turn = not self._turn
                site = self.stranded if self._turn else site
        host, port = self.orders[site]
        conn = http.client.HTTPConnection(host, port, timeout=FORWARD_TIMEOUT)
        try:
            conn.request("POST", "/orders")
            resp = conn.getresponse()
            body: dict[str, Any] = json.loads(resp.read() or b"{}")
            status = resp.status
        except (OSError, http.client.HTTPException, ValueError) as e:
            return 503, {"error": f"site {site}: {e}", "site": site}
        finally:
            conn.close()
        if status == 201:
            self.record_ack(site, body)
        return status, body

    def record_ack(self, site: str, body: Mapping[str, Any]) -> None:
        """Record one acknowledgement of `site`'s order service (the writer's ledger: with
        global DNS the clients reach order services directly and report here)."""
        with self._lock:
            if self._acks.closed or site not in self._epoch:
                return
            self._acks.write(
                json.dumps({"site": site, "seq": body["seq"], "ts": body["ts"]}) + "\n"
            )
            self._seq.labels(site).set(body["seq"])
            self._count.labels(site).inc()
            self._ts.labels(site).set(body["ts"])
            epoch = self._epoch[site]
            epoch.append((int(body["seq"]), float(body["ts"])))
            while epoch and epoch[0][1] < time.time() - ACK_MEMORY:
                epoch.popleft()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        router = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body = router.forward() if self.path == "/orders" else (404, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
