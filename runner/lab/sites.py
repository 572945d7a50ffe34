"""One site of the lab: its PostgreSQL server and its order service, crashed or frozen together."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from runner.errors import LabError
from runner.lab import processes
from runner.lab.postgres import PgNode
from runner.lab.state import Layout


class Site:
    """One site of the topology: a database server and an order service in front of it,
    both on the site's own loopback address."""

    def __init__(
        self,
        name: str,
        layout: Layout,
        *,
        address: str,
        db_port: int,
        order_port: int,
        order_args: Callable[[], list[str]] = list,
        db_settings: dict[str, str] | None = None,
    ) -> None:
        """`order_args`: extra arguments of the order service, asked for at each start (where
        it writes can depend on the other sites)."""
        self.name, self.layout, self.address, self.order_port = name, layout, address, order_port
        self.order_args = order_args
        self.db = PgNode(
            name, layout.pg_data(name), layout.pg_log(name), db_port, address, db_settings
        )
        self.orders: subprocess.Popen[bytes] | None = None

    @property
    def orders_running(self) -> bool:
        return self.orders is not None and self.orders.poll() is None

    def start_orders(self, timeout: float = 15) -> None:
        if self.orders_running:
            return
        with self.layout.orders_log(self.name).open("ab") as log:
            self.orders = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runner.lab.orders",
                    "--site",
                    self.name,
                    "--host",
                    self.address,
                    "--port",
                    str(self.order_port),
                    "--state-dir",
                    str(self.layout.root),
                    *self.order_args(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        url = f"http://{self.address}:{self.order_port}/metrics"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                if self.orders.poll() is not None:
                    raise LabError(f"order service {self.name} exited") from None
                if time.monotonic() > deadline:
                    raise LabError(f"order service {self.name} not ready") from None
                time.sleep(0.05)

    def crash(self) -> None:
        """SIGKILL the database tree and the order service."""
        self.db.crash()
        if self.orders is not None:
            processes.kill_child_tree(self.orders)

    def freeze(self) -> None:
        """SIGSTOP the database tree and the order service."""
        self.db.freeze()
        if self.orders_running and self.orders is not None:
            self.orders.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.db.thaw()
        if self.orders_running and self.orders is not None:
            self.orders.send_signal(signal.SIGCONT)

    def restore(self) -> None:
        """Undo a crash or freeze: resume or restart whatever is down, in whatever role it has."""
        self.thaw()
        self.db.start()
        self.start_orders()

    def stop(self) -> None:
        if self.orders is not None:
            processes.stop_child(self.orders, signal.SIGTERM, 5)
        self.db.stop()

    def status(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "db": {
                "port": self.db.port,
                "pid": self.db.pid,
                "running": self.db.running,
                "frozen": self.db.frozen,
                "data": str(self.db.data),
            },
            "orders": {
                "port": self.order_port,
                "pid": self.orders.pid if self.orders_running and self.orders else None,
                "running": self.orders_running,
            },
        }
