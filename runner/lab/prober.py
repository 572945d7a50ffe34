"""The prober: the lab's clients, each writing 10 times a second.

By default one client writes through the router. With global DNS each client resolves the
service name through its own TTL-honouring cache (`runner.lab.resolver`) and writes to the
site the answer names (one address after another when it names several), as real clients
do: a client keeps reaching a dead site until the record changes and its cache expires.

Every probe (ts, ok, latency, and with DNS: client, the answer, the address and site
reached, whether the answer came from the cache) is appended to `probes.jsonl`, the lab's
own record of availability; every lookup that reached a server to `resolutions.jsonl`.
`lab_probe_success` is the fraction of all clients' probes that ended in the last second
and succeeded (0 when all failed or none ended).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

INTERVAL = 0.1
TIMEOUT = 1.0
WINDOW = 1.0


@dataclass(frozen=True)
class Target:
    """Where one probe goes, and what the record says about how it was chosen."""

    host: str
    port: int
    detail: Mapping[str, Any] = field(default_factory=dict)


class NoTarget(Exception):
    """The client could not find where to send the probe (its DNS lookup failed)."""

    def __init__(self, reason: str, detail: Mapping[str, Any]) -> None:
        super().__init__(reason)
        self.detail = detail


class Client(Protocol):
    name: str

    def target(self) -> Target: ...


class RouterClient:
    """The default lab's client: every write through the router."""

    name = "prober"

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._target = Target(host, port)

    def target(self) -> Target:
        return self._target


class Prober(Collector):
    """Probes on a fixed 100 ms beat per client; slow probes overlap instead of delaying it."""

    def __init__(
        self,
        *,
        clients: list[Client],
        probes: Path,
        registry: CollectorRegistry,
        on_ack: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        """`on_ack`: called with each acknowledgement body (clients that reach order services
        directly record acks here; through the router, the router records them)."""
        self.clients = clients
        self.on_ack = on_ack
        self._file = probes.open("a", buffering=1)
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, bool]] = deque()
        self._total = Counter("lab_probe", "Probes by result", ["result"], registry=registry)
        registry.register(self)
        self._stop = threading.Event()
        workers = (int(TIMEOUT / INTERVAL) + 4) * len(clients)
        self._pool = ThreadPoolExecutor(max_workers=workers)

    def start(self) -> None:
        threading.Thread(target=self._beat, name="prober", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)
        with self._lock:
            self._file.close()

    def _beat(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            for client in self.clients:
                self._pool.submit(self._probe, client)
            next_at += INTERVAL
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _probe(self, client: Client) -> None:
        ts, start = time.time(), time.monotonic()
        body: dict[str, Any] = {}
        try:
            target = client.target()
        except NoTarget as e:
            ok, detail = False, {**e.detail, "error": str(e)}
        else:
            detail = dict(target.detail)
            conn = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT)
            try:
                conn.request("POST", "/orders")
                resp = conn.getresponse()
                ok = resp.status == 201
                if ok:
                    body = json.loads(resp.read() or b"{}")
            except (OSError, http.client.HTTPException, ValueError):
                ok = False
            finally:
                conn.close()
        if ok and self.on_ack is not None and "seq" in body:
            self.on_ack(body)
        latency = time.monotonic() - start
        self._total.labels("ok" if ok else "error").inc()
        line = {"ts": ts, "ok": ok, "latency": round(latency, 4), **detail}
        with self._lock:
            if not self._file.closed:
                self._file.write(json.dumps(line) + "\n")
            self._recent.append((time.time(), ok))

    def collect(self) -> Iterable[GaugeMetricFamily]:
        cutoff = time.time() - WINDOW
        with self._lock:
            while self._recent and self._recent[0][0] < cutoff:
                self._recent.popleft()
            results = [ok for _, ok in self._recent]
        value = sum(results) / len(results) if results else 0.0
        yield GaugeMetricFamily(
            "lab_probe_success", "Fraction of probes in the last second that succeeded", value=value
        )
