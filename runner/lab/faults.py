"""The faults the supervisor holds: applied at once, removed on request or when they expire.

Every fault carries the run id that created it and expires after its duration (a
partition, as in Chaos Mesh) or its duration plus a margin (the others, which the
drill removes itself before failing back), so a runner that died never leaves one
forever. Link shapes are
recomputed from all active faults after every change, so removal always
restores and is idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from runner.errors import LabError
from runner.lab.proxy import LinkProxy
from runner.lab.sites import Site

log = logging.getLogger(__name__)
EXPIRY_MARGIN = 30.0
TYPES = ("cluster-loss", "network-partition", "replication-lag")


@dataclass(frozen=True, kw_only=True)
class LabFault:
    """One active fault, as the control API lists it."""

    id: str
    run_id: str
    fault: str
    type: str
    site: str
    effect: str = "crash"
    latency: float = 0.0
    rate: float | None = None
    duration: float
    created_at: float
    expires_at: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_request(cls, body: dict[str, Any], now: float) -> LabFault:
        if body.get("type") not in TYPES:
            raise LabError(f"unknown lab fault type {body.get('type')!r}")
        duration = float(body["duration"])
        return cls(
            id=f"{body['run_id']}-{body['fault']}",
            run_id=str(body["run_id"]),
            fault=str(body["fault"]),
            type=str(body["type"]),
            site=str(body["site"]),
            effect=str(body.get("effect", "crash")),
            latency=float(body.get("latency", 0.0)),
            rate=float(body["rate"]) if body.get("rate") else None,
            duration=duration,
            created_at=now,
            expires_at=now + duration + float(body.get("margin", _margin(str(body["type"])))),
        )


def _margin(fault_type: str) -> float:
    """A partition heals by itself after its duration, as Chaos Mesh's NetworkChaos does (a
    split brain lasts as long as the partition); other faults are held until the drill
    removes them (the failback depends on it), expiring `EXPIRY_MARGIN` after their
    duration only if nobody does."""
    return 0.0 if fault_type == "network-partition" else EXPIRY_MARGIN


class FaultBook:
    """Applies, lists and removes lab faults; `lock` serialises them with the lab steps."""

    def __init__(
        self,
        sites: dict[str, Site],
        proxies: dict[str, LinkProxy],
        lock: threading.RLock,
        upstream_proxy: Callable[[str], LinkProxy | None],
        on_healed: Callable[[], None] = lambda: None,
    ) -> None:
        """`upstream_proxy(site)`: the proxy the standby at `site` streams through;
        `on_healed`: called when the last network partition is removed."""
        self.sites, self.proxies, self.lock = sites, proxies, lock
        self.upstream_proxy, self.on_healed = upstream_proxy, on_healed
        self.active: dict[str, LabFault] = {}
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._expire, name="fault-expiry", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def apply(self, body: dict[str, Any]) -> LabFault:
        fault = LabFault.from_request(body, time.time())
        with self.lock:
            if fault.id in self.active:
                return self.active[fault.id]
            self.active[fault.id] = fault
            if fault.type == "cluster-loss":
                if fault.effect == "crash":
                    self.sites[fault.site].crash()
                else:
                    self.sites[fault.site].freeze()
            self._shape_links()
            log.info("applied fault %s (%s on %s)", fault.id, fault.type, fault.site)
            return fault

    def remove(self, fault_id: str) -> bool:
        with self.lock:
            fault = self.active.get(fault_id)
            if fault is None:
                return False
            if fault.type == "cluster-loss" and not self._site_lost_by_another(fault):
                self.sites[fault.site].restore()
            del self.active[fault_id]
            self._shape_links()
            if fault.type == "network-partition" and not self.partitioned:
                self.on_healed()
            log.info("removed fault %s", fault.id)
            return True

    @property
    def partitioned(self) -> bool:
        return any(f.type == "network-partition" for f in self.snapshot())

    def snapshot(self) -> list[LabFault]:
        """A snapshot of the active faults (safe while another thread changes them)."""
        return list(self.active.values())

    def _site_lost_by_another(self, fault: LabFault) -> bool:
        return any(
            f.type == "cluster-loss" and f.site == fault.site and f.id != fault.id
            for f in self.active.values()
        )

    def _shape_links(self) -> None:
        active = self.snapshot()
        partitioned = any(f.type == "network-partition" for f in active)
        for proxy in self.proxies.values():
            lags = [
                f
                for f in active
                if f.type == "replication-lag" and self.upstream_proxy(f.site) is proxy
            ]
            if partitioned:
                if not proxy.shape.severed:
                    proxy.sever()
            elif lags:
                rates = [f.rate for f in lags if f.rate]
                proxy.set_shape(
                    latency=max(f.latency for f in lags), rate=min(rates) if rates else None
                )
            else:
                proxy.restore()

    def _expire(self) -> None:
        while not self._stop.wait(0.5):
            now = time.time()
            for fault in self.snapshot():
                if fault.expires_at <= now:
                    log.warning("fault %s expired; removing it", fault.id)
                    try:
                        self.remove(fault.id)
                    except LabError:
                        log.exception("could not remove expired fault %s", fault.id)
