"""The supervisor's control API: small JSON over HTTP on 127.0.0.1, used by `LabClient`.

GET  /status           processes, roles, active site, lag, active faults
GET  /faults           active faults
POST /faults           apply a fault       {run_id, fault, type, site, duration, ...}
POST /faults/remove    remove one (idempotent) {id}
POST /steps            run a lab step      {action, site, timeout}
POST /shutdown         stop the lab
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from runner.errors import LabError

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any]], Any]


class ControlServer:
    """Routes `METHOD /path` to a handler taking the JSON body and returning JSON."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="control", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                route = routes.get(f"{method} {self.path}")
                try:
                    if route is None:
                        status, result = 404, {"error": f"no route {method} {self.path}"}
                    else:
                        length = int(self.headers.get("Content-Length") or 0)
                        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                        status, result = 200, route(body)
                except LabError as e:
                    status, result = 409, {"error": str(e)}
                except Exception as e:
                    log.exception("control %s %s failed", method, self.path)
                    status, result = 500, {"error": f"{type(e).__name__}: {e}"}
                data = json.dumps(result, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
