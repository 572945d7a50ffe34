"""The lab's Prometheus: the Debian binary as a child process scraping the lab every second."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from runner.errors import LabError
from runner.lab import processes

BINARY = "prometheus"
SCRAPE_TARGETS = 3
"""The supervisor's metrics and the two order services."""
CONFIG = """global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: lab
    honor_labels: true
    static_configs:
      - targets: [{targets}]
"""


class PrometheusProcess:
    """Owns one Prometheus server with its TSDB under the lab's state folder."""

    def __init__(self, root: Path, port: int, targets: list[str]) -> None:
        self.root, self.port, self.targets = root, port, targets
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "prometheus.yml"
        config.write_text(CONFIG.format(targets=", ".join(f'"{t}"' for t in self.targets)))
        with (self.root / "prometheus.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    BINARY,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.root / 'data'}",
                    "--storage.tsdb.retention.time=7d",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise LabError(f"prometheus exited; see {self.root / 'prometheus.log'}")
            if time.monotonic() > deadline:
                raise LabError(f"prometheus not ready after {timeout:.0f}s")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc is not None else None

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop_child(self.proc, signal.SIGTERM, 10)


def scraped_targets(url: str, since: float) -> int:
    """How many targets the Prometheus at `url` has scraped successfully after `since`."""
    expr = f"count(timestamp(up) > {since:.3f} and up == 1)"
    query = urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as r:
            result = json.loads(r.read())["data"]["result"]
    except (OSError, ValueError, KeyError):
        return 0
    return int(float(result[0]["value"][1])) if result else 0
