"""The lab's global DNS: real BIND 9 (`named` from Debian's `bind9`), authoritative for the
topology's zone, on 127.0.0.1 and free ports, with its files in `D/dns/`.

One primary takes RFC 2136 dynamic updates signed with the lab's TSIG key (the protocol
ExternalDNS's rfc2136 provider speaks); `secondaries` follow it by NOTIFY and zone
transfer, as an anycast or multi-provider DNS would. Each session writes a fresh zone
whose service record follows the strategy: `failover`, the active site's address;
`round-robin`, every site's. The key's secret is generated once per state folder
(`D/dns/tsig.secret`, mode 0600) and never printed: `lab status` shows its name and file.

`named` runs in the foreground (`-g`) as a direct child of the supervisor, so it is
stopped with it and found by `lab down` if the supervisor died.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from runner.dns_server import DnsServer
from runner.errors import LabError
from runner.lab import processes
from runner.lab.state import LOCAL, free_port
from runner.lab.topology import DnsSpec

NAMED = "named"
KEY_NAME = "drill-runner-lab"
ALGORITHM = "hmac-sha256"
SOA_TIMES = "60 10 600 {ttl}"
"""refresh retry expire negative-TTL: secondaries are told by NOTIFY, so refresh matters little."""


def named_binary() -> str | None:
    return shutil.which(NAMED) or next(
        (p for p in ("/usr/sbin/named", "/sbin/named") if Path(p).exists()), None
    )


_OPTIONS = """options {{
    directory "{directory}";
    pid-file none;
    session-keyfile none;
    listen-on port {port} {{ {host}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify {notify};
    minimal-responses yes;
}};
controls {{ }};
logging {{
    channel lab {{ file "{directory}/named.log" versions 2 size 5m; print-time yes;
        severity info; }};
    category default {{ lab; }};
    category xfer-in {{ lab; }};
    category xfer-out {{ lab; }};
    category notify {{ lab; }};
    category update {{ lab; }};
    category update-security {{ lab; }};
    category security {{ lab; }};
    category lame-servers {{ null; }};
}};
"""


class DnsService:
    """The zone's authoritative servers, started and stopped together."""

    def __init__(self, root: Path, spec: DnsSpec) -> None:
        self.root, self.spec = root, spec
        self.primary = DnsServer("primary", LOCAL, free_port())
        self.secondaries = [
            DnsServer(f"secondary-{i + 1}", LOCAL, free_port()) for i in range(spec.secondaries)
        ]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def servers(self) -> list[DnsServer]:
        return [self.primary, *self.secondaries]

    @property
    def zone(self) -> str:
        return self.spec.zone

    @property
    def secret_file(self) -> Path:
        return self.root / "tsig.secret"

    @property
    def key_file(self) -> Path:
        return self.root / "tsig.key"

    # ------------------------------------------------------------------ files

    def _secret(self) -> str:
        """The TSIG secret of this state folder, made on first use (0600, never printed)."""
        try:
            value = self.secret_file.read_text().strip()
            base64.b64decode(value, validate=True)
            if value:
                return value
        except (OSError, ValueError):
            pass
        value = base64.b64encode(secrets.token_bytes(32)).decode()
        fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return value

    def _write_key(self) -> None:
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f'key "{KEY_NAME}" {{\n    algorithm {ALGORITHM};\n')
            f.write(f'    secret "{self._secret()}";\n}};\n')

    def zone_text(self, addresses: list[str]) -> str:
        ttl = int(self.spec.ttl.total_seconds())
        serial = int(time.time())
        lines = [
            f"$ORIGIN {self.zone}.",
            f"$TTL {ttl}",
            f"@ IN SOA ns1 hostmaster {serial} {SOA_TIMES.format(ttl=ttl)}",
            *(f"@ IN NS ns{i + 1}" for i in range(len(self.servers))),
            *(f"ns{i + 1} IN A {s.host}" for i, s in enumerate(self.servers)),
            *(f"{self.spec.name} {ttl} IN A {a}" for a in addresses),
        ]
        return "\n".join(lines) + "\n"

    def _write_primary(self, addresses: list[str]) -> Path:
        directory = self.root / "primary"
        shutil.rmtree(directory, ignore_errors=True)  # a fresh zone (and journal) per session
        directory.mkdir(parents=True)
        (directory / "zone.db").write_text(self.zone_text(addresses))
        notify = "".join(f"{s.host} port {s.port}; " for s in self.secondaries)
        conf = directory / "named.conf"
        conf.write_text(
            f'include "{self.key_file}";\n'
            + _OPTIONS.format(
                directory=directory,
                port=self.primary.port,
                host=self.primary.host,
                notify="explicit" if self.secondaries else "no",
            )
            + f'zone "{self.zone}" {{\n    type primary;\n    file "{directory}/zone.db";\n'
            f'    allow-update {{ key "{KEY_NAME}"; }};\n'
            f"    allow-transfer {{ 127.0.0.0/8; }};\n"
            + (f"    also-notify {{ {notify}}};\n" if self.secondaries else "")
            + "};\n"
        )
        return conf

    def _write_secondary(self, server: DnsServer) -> Path:
        directory = self.root / server.name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        conf = directory / "named.conf"
        conf.write_text(
            _OPTIONS.format(directory=directory, port=server.port, host=server.host, notify="no")
            + f'zone "{self.zone}" {{\n    type secondary;\n    file "{directory}/zone.db";\n'
            f"    primaries port {self.primary.port} {{ {self.primary.host}; }};\n"
            "};\n"
        )
        return conf

    # ------------------------------------------------------------------ processes

    def start(self, addresses: list[str], timeout: float = 60) -> None:
        """Write the key, configs and zone (answering `addresses`), start the primary, wait
        until it answers the zone's SOA, then the secondaries, each until it answers too.

        In that order because a secondary that finds no primary on its first zone transfer
        waits out BIND's retry back-off before it tries again (a NOTIFY arriving meanwhile
        is only queued): on a loaded machine the primary can take seconds to listen."""
        binary = named_binary()
        if binary is None:
            raise LabError("global DNS needs BIND 9's named (Debian package bind9; setup.sh)")
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_key()
        confs = {self.primary.name: self._write_primary(addresses)}
        confs.update({s.name: self._write_secondary(s) for s in self.secondaries})
        deadline = time.monotonic() + timeout
        for server in self.servers:
            log = (self.root / f"{server.name}.out").open("ab")
            with log:
                self.procs[server.name] = subprocess.Popen(
                    [binary, "-g", "-4", "-c", str(confs[server.name])],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self._wait_answering(server, deadline)

    def _wait_answering(self, server: DnsServer, deadline: float) -> None:
        from runner.lab.resolver import soa_serial  # dnspython, only when DNS is on

        while soa_serial(server, self.zone) is None:
            proc = self.procs[server.name]
            if proc.poll() is not None:
                tail = (self.root / f"{server.name}.out").read_text(errors="replace")[-800:]
                raise LabError(f"named ({server.name}) exited: {tail}")
            if time.monotonic() > deadline:
                raise LabError(f"named ({server.name}) does not answer for {self.zone}")
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in self.procs.values():
            processes.stop_child(proc, signal.SIGTERM, 10)

    def status(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "name": self.spec.fqdn,
            "ttl": int(self.spec.ttl.total_seconds()),
            "strategy": self.spec.strategy,
            "servers": {
                s.name: {
                    "address": s.address,
                    "pid": p.pid if (p := self.procs.get(s.name)) and p.poll() is None else None,
                }
                for s in self.servers
            },
            "tsig": {"name": KEY_NAME, "algorithm": ALGORITHM, "secretFile": str(self.secret_file)},
        }
