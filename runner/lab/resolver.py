"""DNS as the lab's clients and its ground truth see it (dnspython).

* `CachingResolver`: what one client resolves through: a stub resolver with its own cache
  that honours each answer's TTL, as real clients' resolvers do. Each client prefers
  another authoritative server (the list rotated), as different resolvers would.
* `DnsWatcher`: the lab's ground truth of DNS: every `WATCH_INTERVAL` it asks each
  authoritative server directly for the service name, appends each change of answer to
  `D/dns-answers.jsonl` with the interval it happened in (after the previous poll was
  sent, before this answer arrived), and exports what each server answers
  (`lab_dns_answer{server,address}`), so steady-state checks can be written on DNS
  answers in PromQL (blackbox_exporter's DNS probe gives the same in production).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from runner.lab.prober import NoTarget, Target

QUERY_TIMEOUT = 1.0
WATCH_INTERVAL = 0.02


class Server(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def name(self) -> str: ...


def ask(server: Server, qname: str, rdtype: str = "A") -> tuple[str, ...] | None:
    """The sorted answer of one authoritative server (empty: no such record), None when it
    does not answer."""
    query = dns.message.make_query(qname, rdtype)
    try:
        reply = dns.query.udp(query, server.host, port=server.port, timeout=QUERY_TIMEOUT)
    except (dns.exception.DNSException, OSError):
        return None
    if reply.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return None
    wanted = dns.rdatatype.from_text(rdtype)
    return tuple(sorted(rr.to_text() for rrs in reply.answer if rrs.rdtype == wanted for rr in rrs))


def soa_serial(server: Server, zone: str) -> int | None:
    query = dns.message.make_query(zone, "SOA")
    try:
        reply = dns.query.udp(query, server.host, port=server.port, timeout=QUERY_TIMEOUT)
    except (dns.exception.DNSException, OSError):
        return None
    for rrs in reply.answer:
        for rr in rrs:
            if rr.rdtype == dns.rdatatype.SOA:
                return int(rr.serial)
    return None


@dataclass(frozen=True)
class Resolved:
    addresses: tuple[str, ...]
    ttl_left: float
    """Seconds until this answer expires from the client's cache."""
    cached: bool
    server: str | None
    """The authoritative server that gave the answer (None from the cache)."""


class CachingResolver:
    """One client's resolver: dnspython's, with a cache that honours the TTL."""

    def __init__(self, servers: list[Server], *, prefer: int = 0) -> None:
        order = servers[prefer % len(servers) :] + servers[: prefer % len(servers)]
        self._names = {(s.host, s.port): s.name for s in servers}
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = [dns.nameserver.Do53Nameserver(s.host, s.port) for s in order]
        self.resolver.timeout = QUERY_TIMEOUT
        self.resolver.lifetime = 2 * QUERY_TIMEOUT
        self.resolver.rotate = False
        self.cache = dns.resolver.Cache(cleaning_interval=60.0)
        self.resolver.cache = self.cache

    def resolve(self, qname: str) -> Resolved:
        """The addresses `qname` has for this client now; raises dns.exception.DNSException."""
        key = (dns.name.from_text(qname), dns.rdatatype.A, dns.rdataclass.IN)
        cached = self.cache.get(key) is not None
        answer = self.resolver.resolve(qname, "A", search=False)
        addresses = tuple(sorted(rr.to_text() for rr in answer))
        server = (
            None if cached else self._names.get((str(answer.nameserver), int(answer.port or 0)))
        )
        return Resolved(addresses, max(0.0, answer.expiration - time.time()), cached, server)


class DnsClient:
    """A client behind global DNS: resolves the service name through its own cache, then
    writes to the address it got (taking the addresses of a multi-address answer in turn)."""

    def __init__(
        self,
        name: str,
        resolver: CachingResolver,
        qname: str,
        port: int,
        sites: Mapping[str, str],
        log: Callable[[dict[str, Any]], None],
    ) -> None:
        """`sites`: address -> site name; `log` hears every lookup that reached a server."""
        self.name, self.resolver, self.qname, self.port = name, resolver, qname, port
        self.sites, self.log = sites, log
        self._turn = 0

    def target(self) -> Target:
        try:
            got = self.resolver.resolve(self.qname)
        except dns.exception.DNSException as e:
            raise NoTarget(f"dns: {type(e).__name__}", {"client": self.name}) from None
        if not got.cached:
            self.log(
                {
                    "ts": time.time(),
                    "client": self.name,
                    "server": got.server,
                    "answer": list(got.addresses),
                    "ttl": round(got.ttl_left, 3),
                }
            )
        if not got.addresses:
            raise NoTarget("dns: empty answer", {"client": self.name, "answer": []})
        self._turn += 1
        address = got.addresses[self._turn % len(got.addresses)]
        return Target(
            address,
            self.port,
            {
                "client": self.name,
                "answer": list(got.addresses),
                "cached": got.cached,
                "address": address,
                "site": self.sites.get(address),
            },
        )


class ResolutionLog:
    """`D/resolutions.jsonl`, shared by every client."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", buffering=1)
        self._lock = threading.Lock()

    def __call__(self, line: dict[str, Any]) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(json.dumps(line) + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


class DnsWatcher(Collector):
    """Polls every authoritative server for the service name; the DNS ground truth."""

    def __init__(self, servers: Iterable[Server], qname: str, log: Path) -> None:
        self.servers = list(servers)
        self.qname = qname
        self._log = log.open("a", buffering=1)
        self._stop = threading.Event()
        self.latest: dict[str, tuple[str, ...] | None] = {s.name: None for s in self.servers}
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="dns-watcher", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        asked: dict[str, float | None] = {s.name: None for s in self.servers}
        while not self._stop.is_set():
            for server in self.servers:
                sent = time.time()
                answer = ask(server, self.qname)
                with self._lock:
                    changed = answer != self.latest[server.name]
                    self.latest[server.name] = answer
                    if changed and not self._log.closed:
                        # the change happened after the previous poll was sent, and before
                        # this answer arrived: (since, ts]
                        line = {
                            "ts": time.time(),
                            "since": asked[server.name],
                            "server": server.name,
                            "answer": None if answer is None else list(answer),
                        }
                        self._log.write(json.dumps(line) + "\n")
                asked[server.name] = sent
            self._stop.wait(WATCH_INTERVAL)
        with self._lock:
            self._log.close()

    def answers(self) -> dict[str, Any]:
        """The latest answer of every server (None: it did not answer), for the lab's status."""
        with self._lock:
            return {name: None if a is None else list(a) for name, a in self.latest.items()}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "lab_dns_up", "1 if the authoritative server answers", labels=["server"]
        )
        answer = GaugeMetricFamily(
            "lab_dns_answer",
            "1 for each address the authoritative server answers for the service name",
            labels=["server", "name", "address"],
        )
        count = GaugeMetricFamily(
            "lab_dns_answer_count",
            "How many addresses the authoritative server answers for the service name",
            labels=["server", "name"],
        )
        with self._lock:
            latest = dict(self.latest)
        for name, addresses in latest.items():
            up.add_metric([name], 0 if addresses is None else 1)
            if addresses is None:
                continue
            count.add_metric([name, self.qname], len(addresses))
            for address in addresses:
                answer.add_metric([name, self.qname, address], 1)
        yield from (up, answer, count)
