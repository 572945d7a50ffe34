"""Which site is primary: promote, rejoin (CHECKPOINT, then pg_rewind) and planned switchover.

Each standby streams from its upstream (the primary) through the proxy
`repl-to-<upstream>` in front of it, so link faults act on replication, and pg_rewind
goes through the same proxy (a partitioned site cannot rejoin, as in real life).

With synchronous replication the primary's `synchronous_standby_names` always names the
standbys that follow it (`ANY 1 (...)`), as Patroni's synchronous mode keeps it: a promoted
site starts with none (its old primary is gone), and each rejoin adds the site back. A
standby that dies stays named, so writes stall rather than silently stop being
replicated (the strict behaviour; docs/patterns/sync-replication.md).
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

log = logging.getLogger(__name__)


def proxy_name(to_site: str) -> str:
    return f"repl-to-{to_site}"


class Roles:
    """Changes database roles across the lab's sites."""

    def __init__(
        self,
        sites: dict[str, Site],
        proxies: dict[str, LinkProxy],
        *,
        primary: str,
        sync: bool = False,
        on_promoted: Callable[[str], None] = lambda site: None,
        on_rejoined: Callable[[dict[str, Any]], None] = lambda facts: None,
        active: Callable[[], str | None] = lambda: None,
    ) -> None:
        """`active()`: the site taking traffic, which wins when several are primaries (a
        crashed old primary comes back as one: a split brain only traffic tells apart).
        `on_rejoined(facts)`: the rejoin facts (mode, timelines, bytes, seconds)."""
        self.sites, self.proxies, self.on_promoted, self.sync = sites, proxies, on_promoted, sync
        self.on_rejoined, self.active = on_rejoined, active
        self.upstream: dict[str, str] = {s: primary for s in sites if s != primary}
        """Standby site -> the site it streams from (as configured, whether or not it runs)."""

    def upstream_proxy(self, site: str) -> LinkProxy | None:
        """The proxy a standby at `site` streams through (None for a primary)."""
        upstream = self.upstream.get(site)
        return None if upstream is None else self.proxies[proxy_name(upstream)]

    def configure_standby(self, site: str, upstream: str) -> None:
        """Point the (stopped) server of `site` at `upstream`'s proxy."""
        proxy = self.proxies[proxy_name(upstream)]
        self.sites[site].db.make_standby(proxy.host, proxy.port)
        self.upstream[site] = upstream

    def followers(self, primary: str) -> list[str]:
        return [s for s, up in self.upstream.items() if up == primary]

    def apply_sync(self, primary: str) -> None:
        """Name `primary`'s synchronous standbys: the sites that follow it (none when there
        are none, or with asynchronous replication: a folder may come from a sync lab)."""
        names = self.followers(primary) if self.sync else []
        value = f"ANY 1 ({', '.join(names)})" if names else ""
        node = self.sites[primary].db
        node.query(f"ALTER SYSTEM SET synchronous_standby_names = '{value}'")
        node.query("SELECT pg_reload_conf()")
        log.info("%s: synchronous_standby_names = %r", primary, value)

    def primary_of(self, site: str) -> str:
        """The other site whose database is the primary: the active one if it is, else the
        only one; LabError otherwise."""
        found = [s for s in self.sites if s != site and self.role(s) == "primary"]
        if self.active() in found:
            return str(self.active())
        if len(found) != 1:
            roles = ", ".join(f"{s} is {self.role(s)}" for s in self.sites if s != site)
            raise LabError(f"no single primary for {site} to follow ({roles})")
        return found[0]

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
        self.upstream.pop(site, None)
        self.on_promoted(site)
        while True:
            try:
                # a promoted synchronous standby inherits its old primary's standby names,
                # and that primary is gone: it starts with none, until a site rejoins it
                self.apply_sync(site)
                node.query("CREATE TEMP TABLE lab_writable_check (x int)")
                break
            except psycopg.Error as e:
                if time.monotonic() - started > timeout:
                    raise LabError(f"{site} not writable after promotion: {e}") from e
                time.sleep(0.05)
        said = f"promoted {site} in {time.monotonic() - started:.2f}s"
        self._next_segment(site)
        return said

    def _next_segment(self, site: str) -> None:
        """Start a new WAL segment on the new timeline. A promotion copies the segment it
        happens in onto the new timeline, and pg_rewind copies every file of the segment
        where the timelines part (and after): without this a quiet lab promotes in the same
        segment drill after drill, and each rejoin copies one more 16 MB file per timeline
        (seen: 190-290 MB and 10-25 s under load after a dozen drills)."""
        try:
            self.sites[site].db.query("SELECT pg_switch_wal()", 10)
        except psycopg.Error as e:  # only the next rejoin's cost depends on it
            log.warning("could not switch %s to a new WAL segment: %s", site, e)

    def rejoin(self, site: str, timeout: float) -> str:
        """Make `site`'s server a streaming standby of the current primary."""
        other = self.primary_of(site)
        current = self.role(site)
        if current == "standby" and self.upstream.get(site) == other and self._streaming(site):
            return f"{site} is already a streaming standby"
        started = time.monotonic()
        target = self.sites[site]
        target.thaw()
        target.db.stop()
        before = target.db.timeline()
        self.sites[other].db.query("CHECKPOINT", 30)
        mode, copied, note = self._bring_back(target, self.proxies[proxy_name(other)])
        self.configure_standby(site, other)
        target.db.start()
        target.start_orders()
        target.db.wait_streaming(max(1.0, timeout - (time.monotonic() - started)))
        self.apply_sync(other)
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

    def _bring_back(self, target: Site, upstream: LinkProxy) -> tuple[str, int | None, str]:
        """pg_rewind the old primary through `upstream` (the proxy in front of the primary);
        when that is impossible (its WAL is gone, say), re-clone it from the primary with a
        base backup: a rebuild."""
        try:
            output = target.db.rewind_from(upstream.host, upstream.port)
        except LabError as e:
            log.warning("pg_rewind of %s failed, re-cloning it: %s", target.name, e)
            output = target.db.basebackup_from(upstream.host, upstream.port)
            return "recloned", postgres.copied_bytes(output), "; pg_rewind failed"
        if "no rewind required" in output:
            return "no-rewind-needed", 0, ""
        return "rewound", postgres.copied_bytes(output), ""

    def _received_timeline(self, site: str) -> int | None:
        try:
            rows = self.sites[site].db.query("SELECT received_tli FROM pg_stat_wal_receiver")
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
        """Planned: stop the current primary cleanly, promote `site`, rejoin the old primary
        as its standby."""
        if self.role(site) == "primary" and all(
            self.role(s) == "standby" for s in self.sites if s != site
        ):
            return f"{site} is already primary"
        self._require(site, "standby")
        other = self.primary_of(site)
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
        rows = self.sites[site].db.query("SELECT status FROM pg_stat_wal_receiver")
        return bool(rows) and rows[0][0] == "streaming"

    def _wait_replayed(self, site: str, lsn: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        node = self.sites[site].db
        while True:
            rows = node.query("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
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
