"""The database exporter: one polling thread per site, one Prometheus collector for all.

Polls use fresh connections with short timeouts, and a snapshot older than
`STALE` counts as down, so a dead or frozen server never stalls the metrics.
Replication lag of a standby is measured against its upstream primary's current LSN
(from that site's latest snapshot): bytes behind, and seconds behind from the
replay timestamp (0 once it has replayed everything the primary has).

It also verifies the canary (docs/measurement.md, the `missing` form): on each site,
which of the writes every other site acknowledged in its current epoch (from the
router, the writer) are missing, and the writer's timestamp of the last one present
before the first missing one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from runner.lab import postgres

INTERVAL = 0.5
STALE = 3.0
TS_TOLERANCE = 0.001
_POLL = """SELECT NOT pg_is_in_recovery(),
    CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
        - '0/0'::pg_lsn,
    extract(epoch FROM pg_last_xact_replay_timestamp()),
    extract(epoch FROM now()),
    (SELECT status FROM pg_stat_wal_receiver LIMIT 1),
    (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum'))"""
_MAX_SEQ = """SELECT DISTINCT ON (origin) origin, seq, extract(epoch FROM created_at)
    FROM orders ORDER BY origin, seq DESC"""


@dataclass(frozen=True)
class Snapshot:
    """One successful poll of a site's server."""

    at: float
    primary: bool
    lsn: int
    """Primary: current WAL position; standby: replay position (bytes)."""
    replay_ts: float | None
    db_now: float
    receiver: str | None
    """The WAL receiver's status ('streaming' when healthy), None on a primary."""
    max_seq: dict[str, tuple[int, float]]
    canary: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    """Per origin (every other site): (acknowledged writes missing here, writer's timestamp of
    the last acknowledged write present before the first missing one)."""
    sync_standbys: int = 0
    """Primary: standbys streaming as synchronous (or quorum) standbys."""


Acknowledged = Callable[[str, float], list[tuple[int, float]]]
"""(site, since) -> the (seq, writer's ts) that site acknowledged in its current epoch."""
_PRESENT = """SELECT seq, extract(epoch FROM created_at) FROM orders
    WHERE origin = %s AND created_at >= to_timestamp(%s)"""


class DbExporter(Collector):
    """Polls every site's server and exports what it saw."""

    def __init__(
        self,
        databases: dict[str, tuple[str, int]],
        upstream_of: Callable[[str], str | None],
        acknowledged: Acknowledged | None = None,
    ) -> None:
        """`databases`: site -> (host, port); `upstream_of(site)`: the site a standby
        follows (None for a primary)."""
        self.databases = databases
        self.sites = tuple(databases)
        self.upstream_of = upstream_of
        self.acknowledged = acknowledged
        self.latest: dict[str, Snapshot | None] = dict.fromkeys(self.sites)
        self._primary_lsn: dict[str, int] = {}
        self._stop = threading.Event()

    def start(self) -> None:
        for site in self.sites:
            threading.Thread(
                target=self._loop, args=(site,), name=f"exporter-{site}", daemon=True
            ).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self, site: str) -> None:
        while not self._stop.is_set():
            try:
                host, port = self.databases[site]
                with postgres.connect(port, host=host) as conn:
                    row = conn.execute(_POLL.encode()).fetchone()
                    assert row is not None
                    primary, lsn, replay_ts, db_now, receiver, sync_standbys = row
                    max_seq = {
                        str(o): (int(s), float(t))
                        for o, s, t in conn.execute(_MAX_SEQ.encode()).fetchall()
                    }
                    canary: dict[str, tuple[int, float | None]] = {}
                    for origin in self.sites:
                        if origin != site:
                            canary.update(self._verify_canary(conn, origin))
                snap = Snapshot(
                    time.time(),
                    bool(primary),
                    int(lsn),
                    float(replay_ts) if replay_ts is not None else None,
                    float(db_now),
                    receiver,
                    max_seq,
                    canary,
                    int(sync_standbys or 0),
                )
                self.latest[site] = snap
                if snap.primary:
                    self._primary_lsn[site] = snap.lsn
            except (psycopg.Error, OSError):
                self.latest[site] = None
            self._stop.wait(INTERVAL)

    def _verify_canary(
        self, conn: psycopg.Connection[Any], origin: str
    ) -> dict[str, tuple[int, float | None]]:
        """Which writes `origin` acknowledged (this epoch) this server lacks."""
        if self.acknowledged is None:
            return {}
        acked = self.acknowledged(origin, 0.0)
        if not acked:
            return {origin: (0, None)}
        since = min(ts for _, ts in acked) - 0.001
        rows = conn.execute(_PRESENT.encode(), (origin, since)).fetchall()
        present: dict[int, list[float]] = {}
        for seq, ts in rows:
            present.setdefault(int(seq), []).append(float(ts))
        missing, last_present = 0, None
        for seq, ts in acked:
            # a promoted standby may hand out a seq that a lost write had: match the time too
            if any(abs(t - ts) <= TS_TOLERANCE for t in present.get(seq, ())):
                if missing == 0:
                    last_present = ts
            else:
                missing += 1
        return {origin: (missing, last_present)}

    def fresh(self, site: str) -> Snapshot | None:
        snap = self.latest[site]
        return snap if snap is not None and time.time() - snap.at < STALE else None

    def lag(self, site: str, snap: Snapshot) -> tuple[float, float]:
        """(bytes, seconds) a standby is behind the other site's primary."""
        if snap.primary:
            return 0.0, 0.0
        upstream = self.upstream_of(site)
        primary_lsn = None if upstream is None else self._primary_lsn.get(upstream)
        if primary_lsn is None or snap.lsn >= primary_lsn:
            return 0.0, 0.0
        behind = snap.db_now - snap.replay_ts if snap.replay_ts is not None else 0.0
        return float(primary_lsn - snap.lsn), max(0.0, behind)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily("lab_db_up", "1 if the site's database answers", labels=["site"])
        primary = GaugeMetricFamily("lab_db_is_primary", "1 if not in recovery", labels=["site"])
        lag_b = GaugeMetricFamily(
            "lab_replication_lag_bytes",
            "Primary current LSN minus standby replay LSN",
            labels=["site"],
        )
        lag_s = GaugeMetricFamily(
            "lab_replication_lag_seconds", "Seconds the standby's replay is behind", labels=["site"]
        )
        seq = GaugeMetricFamily(
            "lab_db_max_seq", "Last seq present per origin", labels=["site", "origin"]
        )
        seq_ts = GaugeMetricFamily(
            "lab_db_max_seq_timestamp_seconds",
            "created_at of the last row present per origin",
            labels=["site", "origin"],
        )
        sync = GaugeMetricFamily(
            "lab_db_sync_standbys",
            "Primary: standbys streaming as synchronous standbys (0 on a standby)",
            labels=["site"],
        )
        for site in self.sites:
            snap = self.fresh(site)
            up.add_metric([site], 1 if snap else 0)
            if snap is None:
                continue
            primary.add_metric([site], 1 if snap.primary else 0)
            sync.add_metric([site], snap.sync_standbys)
            behind_bytes, behind_seconds = self.lag(site, snap)
            lag_b.add_metric([site], behind_bytes)
            lag_s.add_metric([site], behind_seconds)
            for origin, (s, t) in snap.max_seq.items():
                seq.add_metric([site, origin], s)
                seq_ts.add_metric([site, origin], t)
        missing = GaugeMetricFamily(
            "lab_canary_missing_writes",
            "Writes the origin site acknowledged (this epoch) that this site lacks",
            labels=["site", "origin"],
        )
        present_ts = GaugeMetricFamily(
            "lab_canary_present_timestamp_seconds",
            "Writer's timestamp of the origin's last acknowledged write present here before"
            " the first missing one",
            labels=["site", "origin"],
        )
        for site in self.sites:
            snap = self.fresh(site)
            for origin, (count, last) in (snap.canary if snap else {}).items():
                missing.add_metric([site, origin], count)
                if last is not None:
                    present_ts.add_metric([site, origin], last)
        yield from (up, primary, lag_b, lag_s, seq, seq_ts, missing, present_ts, sync)
