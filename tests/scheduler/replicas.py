"""Real `drillctl schedule serve` replicas in subprocesses, and what the tests ask of them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def drillctl(
    *args: str, cwd: Path, store: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`drillctl ARGS` in a subprocess; `store` becomes $DRILL_SCHEDULE_STORE."""
    full = {**os.environ, **(env or {})}
    if store is not None:
        full["DRILL_SCHEDULE_STORE"] = store
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 2) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def wait_until(what: str, predicate: Callable[[], T | None], seconds: float) -> T:
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Replica:
    """One `drillctl schedule serve` process."""

    name: str
    proc: subprocess.Popen[str]
    port: int
    started: float
    stderr_lines: list[str] = field(default_factory=list)
    stopped_in: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> str:
        status, body = get(f"{self.url}/readyz")
        return body.strip() if status == 200 else ""

    def metrics(self) -> str:
        return get(f"{self.url}/metrics")[1]

    @property
    def log(self) -> str:
        return "".join(self.stderr_lines)

    def terminate(self, timeout: float = 60) -> float:
        """SIGTERM and wait; the seconds the graceful shutdown took."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        self.stopped_in = time.monotonic() - t0
        return self.stopped_in

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@contextmanager
def replicas(
    work: Path,
    names: list[str],
    *,
    store: str,
    drills: Path,
    results: Path,
    env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    poll_seconds: float = 0.2,
) -> Iterator[list[Replica]]:
    """Start one serve process per name (file leader election on one lock); stop them all."""
    started: list[Replica] = []
    try:
        for name in names:
            port = free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runner",
                    "schedule",
                    "serve",
                    f"--drills={drills}",
                    f"--store={store}",
                    f"--results={results}",
                    f"--metrics-port={port}",
                    f"--poll-seconds={poll_seconds}",
                    f"--lock-file={work / 'scheduler.lock'}",
                    f"--identity={name}",
                    *extra,
                ],
                cwd=work,
                env={**os.environ, **(env or {})},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            replica = Replica(name, proc, port, time.monotonic())
            reader = threading.Thread(target=_read, args=(replica,), daemon=True)
            reader.start()
            started.append(replica)
            wait_until(f"{name} ready", replica.ready, 60)
        yield started
    finally:
        for replica in started:
            if replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in started:
            try:
                replica.proc.wait(60)
            except subprocess.TimeoutExpired:
                replica.kill()


def _read(replica: Replica) -> None:
    assert replica.proc.stderr is not None
    for line in replica.proc.stderr:
        replica.stderr_lines.append(line)


def history(store_path: Path) -> list[dict[str, Any]]:
    """Every history row of a SQLite store, read with the standard library (not our code)."""
    import sqlite3

    with sqlite3.connect(store_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM drill_runner_runs ORDER BY id").fetchall()
    return [dict(r) for r in rows]


def hold_connections() -> tuple[str, Callable[[], None]]:
    """A webhook that accepts connections and never answers; its URL and a stopper."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()

    def close() -> None:
        stop.set()
        for conn in held:
            conn.close()
        server.close()

    return f"http://127.0.0.1:{server.getsockname()[1]}/hook", close


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)
