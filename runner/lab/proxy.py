"""A TCP proxy on an inter-site link: the knob for partitions and replication lag.

Standbys stream WAL through these proxies, so a fault here acts on real
replication. `sever` resets every connection and refuses new ones (a partition);
`shape` delays and/or throttles the upstream-to-client direction (the WAL stream)
chunk by chunk; `restore` flushes anything held back and lets traffic through.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
CHUNK = 65536
THROTTLED_CHUNK = 4096
_Held = queue.Queue[tuple[float, bytes]]


@dataclass(frozen=True)
class Shape:
    """How the proxy treats traffic now."""

    severed: bool = False
    latency: float = 0.0
    rate: float | None = None
    """Bytes per second on the WAL direction; None for unlimited."""


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class LinkProxy:
    """<host>:<port> → <host>:<target_port>, with a switchable shape: it stands in front of
    one site's server, on that site's address.

    `base` is a shape that is always there (the topology's `linkLatency`: regions apart);
    faults add to it, and `restore` goes back to it.
    """

    def __init__(
        self, name: str, target_port: int, host: str = "127.0.0.1", base: Shape | None = None
    ) -> None:
        self.name, self.target_port, self.host = name, target_port, host
        self.base = base or Shape()
        self.shape = self.base
        self._cond = threading.Condition()
        self._socks: set[socket.socket] = set()
        self._srv = socket.create_server((host, 0))
        self.port: int = self._srv.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name=f"proxy-{name}", daemon=True).start()

    # ------------------------------------------------------------------ control

    def sever(self) -> None:
        with self._cond:
            self.shape = Shape(severed=True)
            socks, self._socks = self._socks, set()
            self._cond.notify_all()
        for s in socks:
            _reset(s)

    def set_shape(self, *, latency: float, rate: float | None) -> None:
        with self._cond:
            self.shape = Shape(latency=self.base.latency + latency, rate=rate)
            self._cond.notify_all()

    def restore(self) -> None:
        with self._cond:
            self.shape = self.base
            self._cond.notify_all()

    def close(self) -> None:
        self._closed = True
        _reset(self._srv)
        self.sever()

    @property
    def connections(self) -> int:
        with self._cond:
            return len(self._socks) // 2

    def status(self) -> dict[str, Any]:
        shape = self.shape
        return {
            "host": self.host,
            "port": self.port,
            "target": self.target_port,
            "severed": shape.severed,
            "latency": shape.latency,
            "baseLatency": self.base.latency,
            "rate": shape.rate,
            "connections": self.connections,
        }

    # ------------------------------------------------------------------ plumbing

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._srv.accept()
            except OSError:
                return
            if self.shape.severed:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._cond:
                self._socks |= {client, upstream}
            held: _Held = queue.Queue()
            for target, args in (
                (self._pump, (client, upstream)),
                (self._read_held, (upstream, held)),
                (self._send_held, (client, upstream, held)),
            ):
                threading.Thread(target=target, args=args, daemon=True).start()

    def _drop(self, *socks: socket.socket) -> None:
        with self._cond:
            self._socks -= set(socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        """Client to upstream: passed through at once."""
        try:
            while data := src.recv(CHUNK):
                dst.sendall(data)
        except OSError:
            pass
        self._drop(src, dst)

    def _read_held(self, src: socket.socket, held: _Held) -> None:
        """Upstream to client, step 1: stamp each chunk with when it arrived."""
        try:
            while data := src.recv(CHUNK):
                held.put((time.monotonic(), data))
        except OSError:
            pass
        held.put((time.monotonic(), b""))

    def _send_held(self, dst: socket.socket, src: socket.socket, held: _Held) -> None:
        """Upstream to client, step 2: release each chunk after the latency, at the rate."""
        next_free = 0.0
        try:
            while True:
                arrived, data = held.get()
                if not data:
                    break
                while data:
                    with self._cond:
                        while True:
                            shape, now = self.shape, time.monotonic()
                            due = arrived + shape.latency
                            wait = max(due, next_free if shape.rate else 0.0) - now
                            if shape.severed or wait <= 0:
                                break
                            self._cond.wait(min(wait, 0.05))
                    if shape.severed:
                        return
                    part = data if shape.rate is None else data[:THROTTLED_CHUNK]
                    data = data[len(part) :]
                    dst.sendall(part)
                    next_free = now + len(part) / shape.rate if shape.rate else 0.0
        except OSError:
            pass
        self._drop(dst, src)
