"""One authoritative DNS server's name and address: the value the lab's BIND service starts
and the DNS steps send to (one type, so neither has to convert the other's)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DnsServer:
    """One authoritative server: `primary` or `secondary-N` in the lab, or as a drill names it."""

    name: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
