"""The scheduler's HTTP side: `/metrics`, `/healthz` (alive) and `/readyz` (ready to serve).

A standard-library `ThreadingHTTPServer` in a daemon thread; the port may be 0 (a free
one, for tests). `/readyz` is 200 once the drills are loaded and the store answers, for
the leader and the standbys alike (a standby is a ready replica, just not the active one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

Readiness = Callable[[], tuple[bool, str]]


class Endpoints:
    def __init__(
        self,
        *,
        metrics: Callable[[], bytes],
        ready: Readiness,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        handler = _handler(metrics, ready)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="scheduler-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> Endpoints:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def _handler(metrics: Callable[[], bytes], ready: Readiness) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, metrics(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._reply(200, b"ok\n")
            elif path == "/readyz":
                ok, why = ready()
                self._reply(200 if ok else 503, (why or "ok").encode() + b"\n")
            else:
                self._reply(404, b"not found\n")

        def _reply(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes every few seconds would flood the log: stay quiet."""

    return Handler
