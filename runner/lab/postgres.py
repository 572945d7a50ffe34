"""One lab PostgreSQL 15 server: create, start as a direct child, crash, freeze, promote, rewind.

Server tools run as the `postgres` OS user when we are root. The postmaster is a
direct child so it is reaped at once after a SIGKILL (a zombie would block the
restart and pg_rewind). The port is given on the command line, never in the
config, because pg_basebackup and pg_rewind copy the config between servers.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from runner.errors import LabError
from runner.lab import processes
from runner.lab.state import LOCAL

BIN = Path("/usr/lib/postgresql/15/bin")
SETTINGS = """
# drill-runner lab (listen_addresses and port are given on the command line)
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_log_hints = on
hot_standby = on
# pg_rewind copies the source's whole pg_wal on every rejoin: what is kept bounds its cost
# (at 256MB a rejoin copied 250-320 MB, up to 25 s under load; now about 70-120 MB, 1-2 s,
# with each promotion starting a new segment: roles.Roles._next_segment)
wal_keep_size = 32MB
min_wal_size = 32MB
shared_buffers = 32MB
max_connections = 60
fsync = off
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 1s
wal_sender_timeout = 10s
wal_receiver_timeout = 10s
"""


HBA = """
# drill-runner lab: sites on their own loopback addresses
host all all 127.0.0.0/8 trust
host replication all 127.0.0.0/8 trust
"""


def _as_postgres() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def run_tool(*args: str, timeout: float = 120) -> str:
    """Run a PostgreSQL tool (as `postgres` when root); LabError with its output on failure."""
    r = subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/tmp",
        check=False,
        **_as_postgres(),
    )
    if r.returncode != 0:
        raise LabError(f"{args[0]} failed (exit {r.returncode}): {(r.stdout + r.stderr)[-600:]}")
    return str(r.stdout) + str(r.stderr)


def copied_bytes(output: str) -> int | None:
    """The bytes a pg_rewind or pg_basebackup run with --progress says it copied."""
    found = re.findall(r"(\d+)/(\d+) kB", output)
    return int(found[-1][0]) * 1024 if found else None


def connect(port: int, timeout: int = 2, *, host: str = LOCAL) -> psycopg.Connection[Any]:
    """An autocommit connection with short connect and statement timeouts."""
    return psycopg.connect(
        host=host,
        port=port,
        user="postgres",
        dbname="postgres",
        autocommit=True,
        connect_timeout=timeout,
        options=f"-c statement_timeout={timeout * 1000}",
    )


def query(port: int, sql: str, timeout: int = 2, *, host: str = LOCAL) -> list[tuple[Any, ...]]:
    with connect(port, timeout, host=host) as conn:
        cur = conn.execute(sql.encode())
        return cur.fetchall() if cur.description else []


class PgNode:
    """The PostgreSQL server of one site; owns its postmaster process."""

    def __init__(
        self,
        site: str,
        data: Path,
        log: Path,
        port: int,
        host: str = LOCAL,
        settings: dict[str, str] | None = None,
    ) -> None:
        """`settings`: given on the command line (`-c name=value`), like the port: they
        belong to the topology, not to the data folder pg_basebackup copies."""
        self.site, self.data, self.log, self.port, self.host = site, data, log, port, host
        self.settings = settings or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False

    # ------------------------------------------------------------------ creation

    def initdb(self) -> None:
        run_tool(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(SETTINGS)
        with (self.data / "pg_hba.conf").open("a") as f:
            # every site has its own loopback address: trust the whole of 127.0.0.0/8
            f.write(HBA)

    def query(self, sql: str, timeout: int = 2) -> list[tuple[Any, ...]]:
        return query(self.port, sql, timeout, host=self.host)

    def basebackup_from(self, host: str, port: int) -> str:
        shutil.rmtree(self.data, ignore_errors=True)
        return run_tool(
            "pg_basebackup",
            "-h",
            host,
            "-p",
            str(port),
            "-U",
            "postgres",
            "-D",
            str(self.data),
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
            "--progress",
        )

    def rewind_from(self, host: str, port: int) -> str:
        return run_tool(
            "pg_rewind",
            "--progress",
            "--target-pgdata",
            str(self.data),
            "--source-server",
            f"host={host} port={port} user=postgres dbname=postgres",
        )

    def timeline(self) -> int | None:
        """The timeline of the latest checkpoint in the control file (None if unreadable)."""
        try:
            out = run_tool("pg_controldata", str(self.data), timeout=30)
        except (LabError, OSError, subprocess.SubprocessError):
            return None
        m = re.search(r"Latest checkpoint's TimeLineID:\s+(\d+)", out)
        return int(m.group(1)) if m else None

    def make_standby(self, upstream_host: str, upstream_port: int) -> None:
        """Follow the server behind `upstream_host:upstream_port` (a lab proxy) once started;
        the standby names itself after its site (`application_name`), which is how the
        primary's `synchronous_standby_names` refers to it."""
        auto = self.data / "postgresql.auto.conf"
        lines = auto.read_text().splitlines() if auto.exists() else []
        lines = [ln for ln in lines if not ln.startswith("primary_conninfo")]
        lines.append(
            f"primary_conninfo = 'host={upstream_host} port={upstream_port} user=postgres "
            f"application_name={self.site}'"
        )
        auto.write_text("\n".join(lines) + "\n")
        (self.data / "standby.signal").touch()
        if os.geteuid() == 0:
            shutil.chown(auto, "postgres", "postgres")
            shutil.chown(self.data / "standby.signal", "postgres", "postgres")

    @property
    def configured_as_standby(self) -> bool:
        return (self.data / "standby.signal").exists()

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc else None

    def start(self, timeout: float = 60) -> None:
        if self.running:
            return
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    f"listen_addresses={self.host}",
                    *(a for k, v in self.settings.items() for a in ("-c", f"{k}={v}")),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd="/tmp",
                start_new_session=True,
                **_as_postgres(),
            )
        self.frozen = False
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.query("SELECT 1")
                return
            except psycopg.Error:
                if self.proc.poll() is not None:
                    raise LabError(f"postgres {self.site} exited; see {self.log}") from None
                if time.monotonic() > deadline:
                    raise LabError(f"postgres {self.site} not ready after {timeout:.0f}s") from None
                time.sleep(0.05)

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT); SIGKILL the tree if it does not stop in time."""
        if self.proc is not None:
            processes.stop_child(self.proc, signal.SIGINT, timeout)
            self.frozen = False

    def crash(self) -> None:
        """SIGKILL the postmaster and all its children at once, and reap it."""
        if self.proc is not None:
            processes.kill_child_tree(self.proc)
            self.frozen = False

    def freeze(self) -> None:
        if self.running and self.proc is not None:
            processes.signal_tree(self.proc.pid, signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if self.running and self.proc is not None:
            processes.signal_tree(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    # ------------------------------------------------------------------ roles

    def is_primary(self) -> bool:
        return not self.query("SELECT pg_is_in_recovery()")[0][0]

    def promote(self, timeout: float) -> None:
        self.query(f"SELECT pg_promote(true, {max(1, int(timeout))})", int(timeout) + 2)

    def wait_streaming(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                rows = self.query("SELECT status FROM pg_stat_wal_receiver")
                if rows and rows[0][0] == "streaming":
                    return
            except psycopg.Error:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"postgres {self.site} is not streaming after {timeout:.0f}s")
            time.sleep(0.1)
