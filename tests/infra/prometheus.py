"""A real Prometheus for tests, plus deterministic history (backfill) and a live exporter.

`PrometheusServer` runs the Debian `prometheus` binary on a free 127.0.0.1 port with its
own config file and a temporary TSDB kept for 100 years (time retention counts back from
the newest block, so old backfilled history would otherwise be deleted at start-up).
History is written with `promtool tsdb create-blocks-from openmetrics` BEFORE start.
Never backfill a series that is also scraped live: Prometheus would merge the two.

`OpenMetrics` builds backfill text (timestamps in seconds, validated; `# EOF` last).
`LiveExporter` serves a private prometheus_client registry from a thread.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
MAX_UNIX_SECONDS = 1e11
"""Anything above this is almost surely milliseconds (year 5138); promtool would accept it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OpenMetrics:
    """Backfill text: one family block per metric, samples in time order, `# EOF` last."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, list[str]]] = {}

    def add(
        self,
        name: str,
        points: Iterable[tuple[float, float]],
        *,
        labels: Mapping[str, str] | None = None,
        kind: str = "gauge",
    ) -> OpenMetrics:
        """One series: (unix seconds, value) points."""
        kind_, lines = self._families.setdefault(name, (kind, []))
        if kind_ != kind:
            raise ValueError(f"{name} was added as a {kind_}, not a {kind}")
        selector = name + _labels(labels or {})
        for ts, value in sorted(points):
            if not 0 < ts < MAX_UNIX_SECONDS:
                raise ValueError(f"{selector}: timestamp {ts} is not in unix seconds")
            lines.append(f"{selector} {_number(value)} {ts:.3f}")
        return self

    def text(self) -> str:
        out = []
        for name, (kind, lines) in self._families.items():
            out += [f"# HELP {name} test data", f"# TYPE {name} {kind}", *lines]
        out.append("# EOF")
        return "\n".join(out) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class PrometheusServer:
    """A Prometheus process of our own; use as a context manager (or call start/stop)."""

    def __init__(
        self,
        work_dir: Path,
        *,
        scrape_targets: Sequence[str] = (),
        scrape_interval: str = "1s",
        backfill_openmetrics: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        if PROMETHEUS is None or PROMTOOL is None:
            raise RuntimeError("the prometheus and promtool binaries are not installed")
        self.work_dir = Path(work_dir)
        self.data_dir = self.work_dir / "tsdb"
        self.config_file = self.work_dir / "prometheus.yml"
        self.log_file = self.work_dir / "prometheus.log"
        self.scrape_targets = tuple(scrape_targets)
        self.scrape_interval = scrape_interval
        self.backfill_openmetrics = backfill_openmetrics
        self.extra_args = tuple(extra_args)
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, *, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self._config(), encoding="utf-8")
        if self.backfill_openmetrics is not None:
            self._backfill(self.backfill_openmetrics)
        for _attempt in range(3):  # the free port can be taken between picking and binding
            self.port = free_port()
            if self._launch(timeout):
                return
        raise RuntimeError(f"prometheus did not start; log:\n{self._log_tail()}")

    def stop(self, *, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _config(self) -> str:
        lines = [
            "global:",
            f"  scrape_interval: {self.scrape_interval}",
            f"  evaluation_interval: {self.scrape_interval}",
            "scrape_configs:",
        ]
        if self.scrape_targets:
            targets = ", ".join(f'"{t}"' for t in self.scrape_targets)
            lines += [
                "  - job_name: test",
                "    static_configs:",
                f"      - targets: [{targets}]",
            ]
        else:
            lines[-1] = "scrape_configs: []"
        return "\n".join(lines) + "\n"

    def _backfill(self, text: str) -> None:
        if not text.rstrip().endswith("# EOF"):
            raise ValueError("OpenMetrics backfill must end with '# EOF'")
        source = self.work_dir / "backfill.om"
        source.write_text(text, encoding="utf-8")
        assert PROMTOOL is not None
        done = subprocess.run(
            [
                PROMTOOL,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(source),
                str(self.data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"promtool backfill failed: {done.stderr.strip()[-2000:]}")

    def _launch(self, timeout: float) -> bool:
        assert PROMETHEUS is not None
        args = [
            PROMETHEUS,
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
            *self.extra_args,
        ]
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, cwd=self.work_dir, env=dict(os.environ)
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer,
            ):
                if answer.status == 200:
                    return True
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"prometheus was not ready within {timeout}s; log:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return "(no log)"


class LiveExporter:
    """A /metrics endpoint on a free 127.0.0.1 port serving a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.down = False
        """While set, /metrics answers 503: Prometheus marks every series of it stale."""
        registry = self.registry
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/metrics" or exporter.down:
                    self.send_response(404 if self.path != "/metrics" else 503)
                    self.end_headers()
                    return
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        """host:port, as a Prometheus static target."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def gauge(
        self, name: str, documentation: str = "test gauge", labels: Sequence[str] = ()
    ) -> Gauge:
        return Gauge(name, documentation, labelnames=labels, registry=self.registry)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LiveExporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
