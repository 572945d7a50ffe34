"""Which site is primary: promote, rejoin (CHECKPOINT, then pg_rewind) and planned switchover.

Each standby streams from the other site's server through the proxy
`repl-to-<other>`, so link faults act on replication, and pg_rewind goes through
the same proxy (a partitioned site cannot rejoin, as in real life).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import psycopg

from runner.errors import LabError
from runner.lab import postgres
from runner.lab.proxy import LinkProxy
from runner.lab.sites import Site
from runner.lab.state import other_site

log = logging.getLogger(__name__)


def proxy_name(to_site: str) -> str:
    return f"repl-to-{to_site}"


class Roles:
    """Changes database roles across the two sites."""

    def __init__(
        self,
        sites: dict[str, Site],
        proxies: dict[str, LinkProxy],
        on_promoted: Callable[[str], None] = lambda site: None,
        on_rejoined: Callable[[dict[str, Any]], None] = lambda facts: None,
    ) -> None:
        self.sites, self.proxies, self.on_promoted = sites, proxies, on_promoted
        self.on_rejoined = on_rejoined

    def upstream_port(self, site: str) -> int:
        """The port a standby at `site` streams from: the proxy in front of the other site."""
        return self.proxies[proxy_name(other_site(site))].port

    def role(self, site: str) -> str:
        node = self.sites[site].db
        if not node.running:
            return "down"
        if node.frozen:
            return "frozen"
        try:
            return "primary" if node.is_primary() else "standby"
        except psycopg.Error:
            return "unreachable"

    def _require(self, site: str, role: str) -> None:
        actual = self.role(site)
        if actual != role:
            raise LabError(f"site {site} is {actual}, expected {role}")

    def promote(self, site: str, timeout: float) -> str:
        """Promote the standby at `site` and wait until it accepts writes."""
        if self.role(site) == "primary":
            return f"{site} is already primary"
        self._require(site, "standby")
        node = self.sites[site].db
        started = time.monotonic()
        node.promote(timeout)
        self.on_promoted(site)
        while True:
            try:
                postgres.query(node.port, "CREATE TEMP TABLE lab_writable_check (x int)")
                break
            except psycopg.Error as e:
                if time.monotonic() - started > timeout:
                    raise LabError(f"{site} not writable after promotion: {e}") from e
                time.sleep(0.05)
        return f"promoted {site} in {time.monotonic() - started:.2f}s"

    def rejoin(self, site: str, timeout: float) -> str:
        """Make `site`'s server a streaming standby of the other site's primary."""
        other = other_site(site)
        self._require(other, "primary")
        current = self.role(site)
        if current == "standby" and self._streaming(site):
            return f"{site} is already a streaming standby"
        started = time.monotonic()
        target = self.sites[site]
        target.thaw()
        target.db.stop()
        before = target.db.timeline()
        postgres.query(self.sites[other].db.port, "CHECKPOINT", 30)
        mode, copied, note = self._bring_back(target, self.upstream_port(site))
        target.db.make_standby(self.upstream_port(site))
        target.db.start()
        target.start_orders()
        target.db.wait_streaming(max(1.0, timeout - (time.monotonic() - started)))
        seconds = round(time.monotonic() - started, 3)
        facts = {
            "mode": mode,
            "site": site,
            "timelineBefore": before,
            "timelineAfter": self._received_timeline(site),
            "bytesCopied": copied,
            "seconds": seconds,
        }
        self.on_rejoined(facts)
        # the rejoin facts line of docs/failback.md, read by the engine from the output
        return f"{site} rejoined as standby of {other} ({mode}{note}) in {seconds:.2f}s\n" + (
            json.dumps({"rejoin": facts}, sort_keys=True)
        )

    def _bring_back(self, target: Site, upstream: int) -> tuple[str, int | None, str]:
        """pg_rewind the old primary; when that is impossible (its WAL is gone, say),
        re-clone it from the primary with a base backup: a rebuild."""
        try:
            output = target.db.rewind_from(upstream)
        except LabError as e:
            log.warning("pg_rewind of %s failed, re-cloning it: %s", target.name, e)
            output = target.db.basebackup_from(upstream)
            return "recloned", postgres.copied_bytes(output), "; pg_rewind failed"
        if "no rewind required" in output:
            return "no-rewind-needed", 0, ""
        return "rewound", postgres.copied_bytes(output), ""

    def _received_timeline(self, site: str) -> int | None:
        try:
            rows = postgres.query(
                self.sites[site].db.port, "SELECT received_tli FROM pg_stat_wal_receiver"
            )
        except psycopg.Error:
            return None
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def fence(self, site: str) -> str:
        """Fence the old primary (as CloudNativePG's fencing does): stop its database, so
        it accepts no write whoever still reaches it; `rejoin` brings it back as standby."""
        node = self.sites[site].db
        if not node.running:
            return f"{site} is already fenced (its database is down)"
        self.sites[site].thaw()
        node.stop()
        return f"fenced {site}: its database is stopped"

    def switchover(self, site: str, timeout: float) -> str:
        """Planned: stop the other primary cleanly, promote `site`, rejoin the other as standby."""
        other = other_site(site)
        if self.role(site) == "primary" and self.role(other) == "standby":
            return f"{site} is already primary"
        self._require(site, "standby")
        self._require(other, "primary")
        started = time.monotonic()
        old = self.sites[other].db
        old.stop()
        try:
            self._wait_replayed(site, _checkpoint_lsn(old), timeout)
        except LabError:
            old.start()
            raise
        self.promote(site, timeout)
        self.rejoin(other, max(1.0, timeout - (time.monotonic() - started)))
        return f"switched over to {site} in {time.monotonic() - started:.2f}s"

    def _streaming(self, site: str) -> bool:
        rows = postgres.query(self.sites[site].db.port, "SELECT status FROM pg_stat_wal_receiver")
        return bool(rows) and rows[0][0] == "streaming"

    def _wait_replayed(self, site: str, lsn: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        port = self.sites[site].db.port
        while True:
            rows = postgres.query(port, "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
            if rows and rows[0][0] is not None and int(rows[0][0]) >= lsn:
                return
            if time.monotonic() > deadline:
                raise LabError(f"{site} did not replay up to the old primary's shutdown")
            time.sleep(0.05)


def _checkpoint_lsn(node: postgres.PgNode) -> int:
    out = postgres.run_tool("pg_controldata", str(node.data))
    m = re.search(r"Latest checkpoint location:\s+([0-9A-F]+)/([0-9A-F]+)", out)
    if not m:
        raise LabError(f"cannot read the latest checkpoint of {node.site}")
    return (int(m.group(1), 16) << 32) + int(m.group(2), 16)
