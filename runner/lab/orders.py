"""The order service of one site, run as its own process (`python -m runner.lab.orders`).

`POST /orders` inserts one row into the site's own database, one write at a
time, and acknowledges `{seq, ts}` only after the commit; `GET /orders/<seq>`
reads a row back; `GET /metrics` serves its Prometheus metrics. It exits when
its parent (the supervisor) goes away.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from runner.lab import postgres

log = logging.getLogger(__name__)
SCHEMA = """CREATE TABLE IF NOT EXISTS orders (
    seq bigserial PRIMARY KEY,
    origin text NOT NULL,
    created_at timestamptz NOT NULL
)"""


class OrderStore:
    """The site's database connection; every write holds the lock (writes are serialised)."""

    def __init__(self, site: str, db_port: int) -> None:
        self.site, self.db_port = site, db_port
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = postgres.connect(self.db_port)
                return self._conn.execute(sql.encode(), params).fetchall()
            except psycopg.Error:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                raise

    def insert(self) -> tuple[int, float]:
        now = datetime.now(UTC)
        rows = self._run(
            "INSERT INTO orders (origin, created_at) VALUES (%s, %s) RETURNING seq",
            (self.site, now),
        )
        return int(rows[0][0]), now.timestamp()

    def get(self, seq: int) -> dict[str, Any] | None:
        rows = self._run("SELECT seq, origin, created_at FROM orders WHERE seq = %s", (seq,))
        if not rows:
            return None
        return {"seq": rows[0][0], "origin": rows[0][1], "ts": rows[0][2].timestamp()}


def make_server(site: str, db_port: int, port: int) -> ThreadingHTTPServer:
    registry = CollectorRegistry()
    total = Counter("lab_orders", "Orders handled", ["site", "result"], registry=registry)
    last = Gauge("lab_order_last_ack_seq", "Last acknowledged seq", ["site"], registry=registry)
    store = OrderStore(site, db_port)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._reply(status, json.dumps(data).encode())

        def do_POST(self) -> None:
            if self.path != "/orders":
                return self._json(404, {"error": "not found"})
            try:
                seq, ts = store.insert()
            except psycopg.Error as e:
                total.labels(site, "error").inc()
                return self._json(503, {"error": str(e).strip()[:200], "site": site})
            total.labels(site, "ok").inc()
            last.labels(site).set(seq)
            self._json(201, {"seq": seq, "ts": ts, "site": site})

        def do_GET(self) -> None:
            if self.path == "/metrics":
                return self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            if self.path.startswith("/orders/") and self.path[8:].isdigit():
                try:
                    row = store.get(int(self.path[8:]))
                except psycopg.Error as e:
                    return self._json(503, {"error": str(e).strip()[:200]})
                return self._json(200, row) if row else self._json(404, {"error": "no such order"})
            self._json(404, {"error": "not found"})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", required=True)
    parser.add_argument("--db-port", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", required=True, help="only marks the process as the lab's")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    server = make_server(args.site, args.db_port, args.port)
    log.info("orders %s on 127.0.0.1:%d (db %d)", args.site, args.port, args.db_port)
    server.serve_forever()


if __name__ == "__main__":
    main()
