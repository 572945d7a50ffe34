"""The order service of one site, run as its own process (`python -m runner.lab.orders`).

`POST /orders` inserts one row into its database (the site's own, or whichever is the
primary), one write at a time, and acknowledges `{seq, ts}` only after the commit;
`GET /orders/<seq>` reads a row back; `GET /metrics` serves its Prometheus metrics. It
exits when its parent (the supervisor) goes away.

With synchronous replication a commit waits for the synchronous standby. If that wait is
cancelled (the statement timeout), PostgreSQL still commits locally and only warns ("canceling
wait for synchronous replication ... might not have been replicated"): the service treats
that warning as a failure and never acknowledges such a write, so a write it acknowledged is
on the standby. It times every commit (`lab_order_commit_seconds`, and `D/commits.jsonl` as
ground truth), shows how long the commit in progress has waited
(`lab_order_commit_wait_seconds`, which grows while a standby is slow or gone), and with
`--compare-async` writes a second stream of samples with `synchronous_commit = local` to a
scratch table, so the latency penalty of synchronous commits is measured in the same run.
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
from pathlib import Path
from typing import Any

import psycopg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from runner.lab import postgres

log = logging.getLogger(__name__)
SCHEMA = """CREATE TABLE IF NOT EXISTS orders (
    seq bigserial PRIMARY KEY,
    origin text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS latency_samples (
    id bigserial PRIMARY KEY,
    origin text NOT NULL,
    created_at timestamptz NOT NULL
)"""
SYNC_CANCELLED = "canceling wait for synchronous replication"
"""The warning PostgreSQL sends when a commit stopped waiting for its synchronous standby."""
COMMIT_TIMEOUT = 5.0
"""A write still waiting after this long is cancelled (as an application's request timeout
would): committed locally by then, it is answered 503, never acknowledged."""
COMPARE_INTERVAL = 0.2
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Unconfirmed(Exception):
    """The commit is local only: the synchronous standby never confirmed it."""


def _watch_notices(conn: psycopg.Connection[Any], seen: list[str]) -> None:
    conn.add_notice_handler(lambda d: seen.append(str(d.message_primary or "")))


class OrderStore:
    """The service's database connection; every write holds the lock (writes are serialised).

    `databases` are (host, port) in order of preference: with one, the site's own server;
    with several (`writes: primary`), libpq's multi-host connection string with
    `target_session_attrs=read-write` connects to whichever of them is the primary.
    """

    def __init__(self, site: str, databases: list[tuple[str, int]]) -> None:
        self.site, self.databases = site, databases
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._notices: list[str] = []
        self.inflight_since: float | None = None
        """time.monotonic() when the write in progress started (None: none in progress)."""

    def connect(self) -> psycopg.Connection[Any]:
        if len(self.databases) == 1:
            host, port = self.databases[0]
            return postgres.connect(port, host=host)
        return psycopg.connect(
            host=",".join(h for h, _ in self.databases),
            port=",".join(str(p) for _, p in self.databases),
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=2,
            target_session_attrs="read-write",
            options="-c statement_timeout=2000",
        )

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self.connect()
                    _watch_notices(self._conn, self._notices)
                self._notices.clear()
                self.inflight_since = time.monotonic()
                timer = threading.Timer(COMMIT_TIMEOUT, self._conn.cancel_safe)
                timer.start()
                try:
                    rows = self._conn.execute(sql.encode(), params).fetchall()
                finally:
                    timer.cancel()
                if any(SYNC_CANCELLED in n for n in self._notices):
                    raise Unconfirmed("committed locally, not confirmed by the synchronous standby")
                return rows
            except psycopg.Error:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                raise
            finally:
                self.inflight_since = None

    def commit_wait(self) -> float:
        """How long the write in progress has been waiting (0 when none is)."""
        since = self.inflight_since
        return 0.0 if since is None else time.monotonic() - since

    def insert(self) -> tuple[int, float, float]:
        """(seq, ts, seconds the commit took)."""
        now = datetime.now(UTC)
        started = time.monotonic()
        rows = self._run(
            "INSERT INTO orders (origin, created_at) VALUES (%s, %s) RETURNING seq",
            (self.site, now),
        )
        return int(rows[0][0]), now.timestamp(), time.monotonic() - started

    def get(self, seq: int) -> dict[str, Any] | None:
        rows = self._run("SELECT seq, origin, created_at FROM orders WHERE seq = %s", (seq,))
        if not rows:
            return None
        return {"seq": rows[0][0], "origin": rows[0][1], "ts": rows[0][2].timestamp()}


class CommitLog:
    """Commit latencies: a histogram per commit kind, and one JSON line each (ground truth)."""

    def __init__(self, site: str, registry: CollectorRegistry, path: Path | None) -> None:
        self.site = site
        self._file = path.open("a", buffering=1) if path is not None else None
        self._lock = threading.Lock()
        self.histogram = Histogram(
            "lab_order_commit_seconds",
            "Seconds a write's commit took, by commit kind (sync: waits for the synchronous "
            "standby; async: local only)",
            ["site", "commit"],
            buckets=BUCKETS,
            registry=registry,
        )

    def record(self, commit: str, seconds: float) -> None:
        self.histogram.labels(self.site, commit).observe(seconds)
        if self._file is not None:
            line = {"ts": time.time(), "site": self.site, "commit": commit, "seconds": seconds}
            with self._lock:
                self._file.write(json.dumps(line) + "\n")


def compare_async(store: OrderStore, commits: CommitLog, stop: threading.Event) -> None:
    """Write latency samples with `synchronous_commit = local` on a connection of their own,
    next to the synchronous orders, so both latencies come from the same run."""
    conn: psycopg.Connection[Any] | None = None
    while not stop.wait(COMPARE_INTERVAL):
        try:
            if conn is None or conn.closed:
                conn = store.connect()
                conn.execute(b"SET synchronous_commit TO local")
            started = time.monotonic()
            conn.execute(
                b"INSERT INTO latency_samples (origin, created_at) VALUES (%s, now())",
                (store.site,),
            )
            commits.record("async", time.monotonic() - started)
        except psycopg.Error:
            if conn is not None:
                conn.close()
            conn = None


def make_server(
    site: str,
    host: str,
    port: int,
    databases: list[tuple[str, int]],
    *,
    commit_kind: str = "async",
    commits_file: Path | None = None,
    compare: bool = False,
) -> ThreadingHTTPServer:
    """`commit_kind`: what an order's commit waits for (`sync` with a synchronous standby);
    `compare`: also time asynchronous commits."""
    registry = CollectorRegistry()
    total = Counter("lab_orders", "Orders handled", ["site", "result"], registry=registry)
    last = Gauge("lab_order_last_ack_seq", "Last acknowledged seq", ["site"], registry=registry)
    store = OrderStore(site, databases)
    commits = CommitLog(site, registry, commits_file)
    wait = Gauge(
        "lab_order_commit_wait_seconds",
        "How long the write in progress has been waiting (0 when none is)",
        ["site"],
        registry=registry,
    )
    wait.labels(site).set_function(store.commit_wait)
    if compare:
        threading.Thread(
            target=compare_async, args=(store, commits, threading.Event()), daemon=True
        ).start()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (its answer is in the ground truth anyway)

        def _json(self, status: int, data: Any) -> None:
            self._reply(status, json.dumps(data).encode())

        def do_POST(self) -> None:
            if self.path != "/orders":
                return self._json(404, {"error": "not found"})
            try:
                seq, ts, seconds = store.insert()
            except Unconfirmed as e:
                total.labels(site, "unconfirmed").inc()
                return self._json(503, {"error": str(e), "site": site})
            except psycopg.Error as e:
                total.labels(site, "error").inc()
                return self._json(503, {"error": str(e).strip()[:200], "site": site})
            commits.record(commit_kind, seconds)
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

    return ThreadingHTTPServer((host, port), Handler)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--db",
        action="append",
        required=True,
        metavar="HOST:PORT",
        help="the database to write to; repeated: whichever of them is the primary",
    )
    parser.add_argument("--state-dir", required=True, help="only marks the process as the lab's")
    parser.add_argument("--commit", choices=("sync", "async"), default="async")
    parser.add_argument("--commits", type=Path, help="append every commit's latency here")
    parser.add_argument("--compare-async", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    databases = [(d.rsplit(":", 1)[0], int(d.rsplit(":", 1)[1])) for d in args.db]
    server = make_server(
        args.site,
        args.host,
        args.port,
        databases,
        commit_kind=args.commit,
        commits_file=args.commits,
        compare=args.compare_async,
    )
    log.info("orders %s on %s:%d (databases %s)", args.site, args.host, args.port, args.db)
    server.serve_forever()


if __name__ == "__main__":
    main()
