"""Global DNS steps (dnspython): `dns.update` changes a record set with an RFC 2136 dynamic
update signed with TSIG, as ExternalDNS's rfc2136 provider does; `dns.wait` waits until every
authoritative server answers the expected set, and says when that happened.

The TSIG secret comes from the drill (an environment variable or a file, read through
`runner.scenario.secrets`, which registers it for redaction); it is never part of a message,
an output or a record. Every failure is a `StepError` naming the server and the cause
(refused key, refused update, no answer), or, before anything is injected, a preflight
problem: a server that does not answer for the zone, a key the primary refuses, a record
outside the zone (`record_issues`, located in the scenario file), a cluster without an
address.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, assert_never

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from runner.backends import RunContext, StepResult
from runner.dns_server import DnsServer
from runner.errors import Issue, StepError
from runner.scenario import model
from runner.scenario.located import Source, format_path

_TSIG_ERRORS: dict[type[Exception], str] = {
    dns.tsig.PeerBadKey: "BADKEY: the server does not know this key",
    dns.tsig.PeerBadSignature: "BADSIG: the secret does not match the server's",
    dns.tsig.PeerBadTime: "BADTIME: the clocks differ too much",
    dns.tsig.PeerBadTruncation: "BADTRUNC",
}


@dataclass(frozen=True, kw_only=True)
class DnsConfig:
    """Where DNS steps act, resolved from the drill before the run starts."""

    zone: str
    servers: tuple[DnsServer, ...]
    primary: DnsServer
    key_name: str
    algorithm: str
    secret: str = field(repr=False)
    timeout: float = 2.0
    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Logical cluster -> the addresses a record pointing at it answers."""


def parse_server(text: str, name: str) -> DnsServer:
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "53")
    return DnsServer(name, host or text, int(port or 53))


def absolute(record: str, zone: str) -> str | None:
    """The record's absolute name (with the final dot), or None when it lies outside `zone`."""
    origin = dns.name.from_text(zone)
    if record == "@":
        return origin.to_text()
    name = dns.name.from_text(record, origin=origin)
    return name.to_text() if name.is_subdomain(origin) else None


def _dns_steps(scenario: model.Scenario) -> Iterator[tuple[tuple[str | int, ...], model.Step]]:
    for phase, steps in (
        ("baseline", scenario.spec.baseline.steps),
        ("failover", scenario.spec.failover.steps),
        ("failback", scenario.spec.failback.steps),
    ):
        for i, step in enumerate(steps):
            if isinstance(step, model.DnsUpdateStep | model.DnsWaitStep):
                yield ("spec", phase, "steps", i), step


def record_issues(scenario: model.Scenario, source: Source, zone: str) -> list[Issue]:
    """DNS steps whose record lies outside `zone`, located in the scenario file."""
    found = []
    for path, step in _dns_steps(scenario):
        record = step.record  # type: ignore[union-attr]
        if absolute(record, zone) is None:
            pos = source.value_at((*path, "record"))
            found.append(
                Issue(
                    file=source.file,
                    line=pos.line,
                    column=pos.column,
                    field=format_path((*path, "record")),
                    message=f"{record!r} is outside the drill's DNS zone {zone!r}",
                )
            )
    return found


class DnsSteps:
    """Runs `dns.update` and `dns.wait` for one run (one attempt per call)."""

    def __init__(self, config: DnsConfig) -> None:
        self.config = config
        self.keyring = dns.tsigkeyring.from_text(
            {config.key_name: (config.algorithm, config.secret)}
        )
        self._updated: dict[str, datetime] = {}
        """Absolute record name -> when its last update was sent (convergence is after)."""
        self._replaced_ttl: dict[str, int] = {}
        """Absolute record name -> the TTL of the answer its last update replaced: clients may
        hold that answer so long after DNS converged, whatever TTL the new one has."""

    def supports(self, action: str) -> bool:
        return action in model.DNS_ACTIONS

    # ------------------------------------------------------------------ preflight

    def preflight(self, scenario: model.Scenario) -> list[str]:
        """What would stop this scenario's DNS steps, found before anything is injected."""
        steps = [s for _, s in _dns_steps(scenario)]
        if not steps:
            return []
        c = self.config
        missing = []
        for server in c.servers:
            try:
                self._ask(server, c.zone, "SOA")
            except StepError as e:
                missing.append(str(e))
        try:
            self._ask(c.primary, c.zone, "SOA", signed=True)
        except StepError as e:
            if not any(c.primary.address in m for m in missing):
                missing.append(str(e))
        for step in steps:
            for cluster in _clusters(step):
                if not c.addresses.get(cluster):
                    missing.append(f"step {step.name!r}: cluster {cluster!r} has no address")
            if absolute(step.record, c.zone) is None:  # type: ignore[union-attr]
                missing.append(f"step {step.name!r}: record outside the zone {c.zone}")
        return missing

    # ------------------------------------------------------------------ steps

    def execute(self, step: model.Step, run: RunContext) -> StepResult:
        """One case per DNS step kind (checked exhaustively by mypy); any other kind is
        refused before anything is sent."""
        if not model.is_dns_step(step):
            raise StepError(f"action {step.action!r} is not a DNS step")
        match step:
            case model.DnsUpdateStep():
                return self._update(step, run)
            case model.DnsWaitStep():
                return self._wait(step, run)
            case _:
                assert_never(step)

    def _name(self, record: str) -> str:
        name = absolute(record, self.config.zone)
        if name is None:
            raise StepError(f"record {record!r} is outside the zone {self.config.zone}")
        return name

    def _expected(self, clusters: list[str]) -> tuple[str, ...]:
        out: set[str] = set()
        for cluster in clusters:
            addresses = self.config.addresses.get(cluster)
            if not addresses:
                raise StepError(f"cluster {cluster!r} has no address to point DNS at")
            out.update(addresses)
        return tuple(sorted(out))

    def _update(self, step: model.DnsUpdateStep, run: RunContext) -> StepResult:
        c = self.config
        name = self._name(step.record)
        addresses = self._expected(step.point_to)
        current = self._ask(c.primary, name, "A")
        if step.ttl is not None:
            ttl = int(step.ttl.total_seconds())
        elif current is None:
            raise StepError(f"{name} has no A record to take the TTL from; give 'ttl'")
        else:
            ttl = current[1]
        previous_ttl = None if current is None else current[1]
        update = dns.update.UpdateMessage(
            c.zone,
            keyring=self.keyring,
            keyname=dns.name.from_text(c.key_name),
            keyalgorithm=c.algorithm,
        )
        update.replace(dns.name.from_text(name), ttl, "A", *addresses)
        sent = run.clock.now()
        reply = self._send(c.primary, update, tcp=True)
        rcode = reply.rcode()
        if rcode != dns.rcode.NOERROR:
            raise StepError(
                f"DNS server {c.primary.name} ({c.primary.address}) refused the update of "
                f"{name}: {dns.rcode.to_text(rcode)}"
            )
        self._updated[name] = sent
        if previous_ttl is None:
            self._replaced_ttl.pop(name, None)
        else:
            self._replaced_ttl[name] = previous_ttl
        run.log("dns.update", {"record": name, "addresses": list(addresses), "ttl": ttl})
        return StepResult(
            output=f"{name} {ttl} IN A {' '.join(addresses)} (updated on {c.primary.name})",
            details={
                "record": name,
                "addresses": list(addresses),
                "ttlSeconds": ttl,
                "replacedTtlSeconds": previous_ttl,
                "sentAt": sent.isoformat(),
            },
        )

    def _wait(self, step: model.DnsWaitStep, run: RunContext) -> StepResult:
        c = self.config
        name = self._name(step.record)
        expected = self._expected(step.expect)
        started = run.clock.now()
        poll = step.poll.total_seconds()
        mismatch, matched, ttl = self._poll(step, run, name, expected)
        # it cannot have converged before the update that made it was sent
        floor = self._updated.get(name)
        lowers = [m for m in mismatch.values() if m is not None]
        lower = max(lowers) if lowers else (floor or started)
        if floor is not None and floor > lower:
            lower = floor
        converged = max(matched.values())
        # how long a client may keep an old answer after convergence: the TTL it was given
        # with, which an update that shortened the TTL did not shorten in anybody's cache
        replaced = self._replaced_ttl.get(name)
        if replaced is not None:
            ttl = max(ttl or 0, replaced)
        details = {
            "record": name,
            "expected": list(expected),
            "ttlSeconds": ttl,
            "pollSeconds": poll,
            "notConvergedAt": lower.isoformat(),
            "convergedAt": converged.isoformat(),
            "servers": {
                s.name: {
                    "convergedAt": matched[s.name].isoformat(),
                    "notConvergedAt": None
                    if mismatch[s.name] is None
                    else mismatch[s.name].isoformat(),  # type: ignore[union-attr]
                }
                for s in c.servers
            },
        }
        return StepResult(
            output=f"{name} answers {' '.join(expected)} on all {len(c.servers)} servers "
            f"(converged between {lower.isoformat()} and {converged.isoformat()}; TTL {ttl}s)",
            details=details,
        )

    def _poll(
        self, step: model.DnsWaitStep, run: RunContext, name: str, expected: tuple[str, ...]
    ) -> tuple[dict[str, datetime | None], dict[str, datetime], int | None]:
        """Ask every server until each has answered `expected` once: per server, when it
        last answered otherwise (None: never) and when it first answered it; the longest TTL
        it came with. StepError at the step's timeout, naming what the others answer."""
        servers = self.config.servers
        deadline = run.clock.monotonic() + step.timeout.total_seconds()
        mismatch: dict[str, datetime | None] = {s.name: None for s in servers}
        matched: dict[str, datetime] = {}
        seen: dict[str, Any] = {}
        ttl: int | None = None
        while True:
            for server in servers:
                if server.name in matched:
                    continue
                answer = self._ask(server, name, "A", quiet=True)
                at = run.clock.now()
                seen[server.name] = None if answer is None else list(answer[0])
                if answer is not None and answer[0] == expected:
                    matched[server.name] = at
                    ttl = max(ttl or 0, answer[1])
                else:
                    mismatch[server.name] = at
            if len(matched) == len(servers):
                return mismatch, matched, ttl
            if run.clock.monotonic() >= deadline:
                waiting = ", ".join(
                    f"{s.name} answers {seen.get(s.name)}" for s in servers if s.name not in matched
                )
                raise StepError(
                    f"{name} did not answer {list(expected)} on every server within "
                    f"{step.timeout.total_seconds():g}s: {waiting}"
                )
            if run.clock.sleep(step.poll.total_seconds(), run.cancel):
                raise StepError("interrupted")

    # ------------------------------------------------------------------ wire

    def _send(self, server: DnsServer, message: dns.message.Message, *, tcp: bool = False) -> Any:
        timeout = self.config.timeout
        try:
            if tcp:
                return dns.query.tcp(message, server.host, port=server.port, timeout=timeout)
            return dns.query.udp(message, server.host, port=server.port, timeout=timeout)
        except tuple(_TSIG_ERRORS) as e:
            raise StepError(
                f"DNS server {server.name} ({server.address}) refused the TSIG key "
                f"{self.config.key_name!r}: {_TSIG_ERRORS[type(e)]}"
            ) from None
        except dns.exception.Timeout:
            raise StepError(
                f"DNS server {server.name} ({server.address}) did not answer within {timeout:g}s"
            ) from None
        except (dns.exception.DNSException, OSError) as e:
            raise StepError(
                f"DNS server {server.name} ({server.address}): {type(e).__name__}: {e}"
            ) from None

    def _ask(
        self,
        server: DnsServer,
        name: str,
        rdtype: str,
        *,
        signed: bool = False,
        quiet: bool = False,
    ) -> tuple[tuple[str, ...], int] | None:
        """(sorted answer, TTL) of one server, None when it has no such record (or, `quiet`,
        when it does not answer)."""
        query = dns.message.make_query(name, rdtype)
        if signed:
            query.use_tsig(
                self.keyring, keyname=self.config.key_name, algorithm=self.config.algorithm
            )
        try:
            reply = self._send(server, query)
        except StepError:
            if quiet:
                return None
            raise
        if reply.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            problem = dns.rcode.to_text(reply.rcode())
            if quiet:
                return None
            raise StepError(
                f"DNS server {server.name} ({server.address}) answers {problem} for {name}"
            )
        wanted = dns.rdatatype.from_text(rdtype)
        for rrs in reply.answer:
            if rrs.rdtype == wanted:
                return tuple(sorted(rr.to_text() for rr in rrs)), int(rrs.ttl)
        if rdtype == "SOA" and not quiet:
            raise StepError(
                f"DNS server {server.name} ({server.address}) is not authoritative for {name}"
            )
        return None


def _clusters(step: model.Step) -> list[str]:
    if isinstance(step, model.DnsUpdateStep):
        return list(step.point_to)
    if isinstance(step, model.DnsWaitStep):
        return list(step.expect)
    return []
