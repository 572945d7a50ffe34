"""The prober: a client writing through the router 10 times a second.

Every probe (ts, ok, latency) is appended to `probes.jsonl`, the lab's own
record of availability. `lab_probe_success` is the fraction of probes that ended in
the last second and succeeded (0 when all failed or none ended).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

INTERVAL = 0.1
TIMEOUT = 1.0
WINDOW = 1.0


class Prober(Collector):
    """Probes the router on a fixed 100 ms beat; slow probes overlap instead of delaying it."""

    def __init__(self, *, router_port: int, probes: Path, registry: CollectorRegistry) -> None:
        self.router_port = router_port
        self._file = probes.open("a", buffering=1)
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, bool]] = deque()
        self._total = Counter("lab_probe", "Probes by result", ["result"], registry=registry)
        registry.register(self)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=int(TIMEOUT / INTERVAL) + 4)

    def start(self) -> None:
        threading.Thread(target=self._beat, name="prober", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)
        self._file.close()

    def _beat(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._pool.submit(self._probe)
            next_at += INTERVAL
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _probe(self) -> None:
        ts, start = time.time(), time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.router_port, timeout=TIMEOUT)
        try:
            conn.request("POST", "/orders")
            ok = conn.getresponse().status == 201
        except (OSError, http.client.HTTPException):
            ok = False
        finally:
            conn.close()
        latency = time.monotonic() - start
        self._total.labels("ok" if ok else "error").inc()
        with self._lock:
            if not self._file.closed:
                self._file.write(
                    json.dumps({"ts": ts, "ok": ok, "latency": round(latency, 4)}) + "\n"
                )
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
