"""The lab's Prometheus: the Debian binary as a child process scraping the lab every second.

Each lab session gets a fresh TSDB (the previous session's is archived, the newest
`ARCHIVES_KEPT` kept): Prometheus writes no staleness markers when it stops, so a
previous session's series would otherwise answer queries for its 5-minute lookback
beside the new ones. Targets carry a stable `instance` (`supervisor`, `orders-<site>`),
not their ports, which change from session to session.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from runner.errors import LabError
from runner.lab import processes

BINARY = "prometheus"
ARCHIVES_KEPT = 3
"""Previous sessions' TSDBs kept in `archive/` beside the live one."""
CONFIG = """global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: lab
    honor_labels: true
    static_configs:
{targets}"""
TARGET = """      - targets: ["{address}"]
        labels: {{instance: "{name}"}}
"""


class PrometheusProcess:
    """Owns one Prometheus server with its TSDB under the lab's state folder."""

    def __init__(self, root: Path, port: int, targets: dict[str, str]) -> None:
        """`targets`: a stable instance name -> its host:port."""
        self.root, self.port, self.targets = root, port, targets
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "prometheus.yml"
        targets = "".join(TARGET.format(address=a, name=n) for n, a in self.targets.items())
        config.write_text(CONFIG.format(targets=targets))
        self._archive_previous_session()
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

    def _archive_previous_session(self) -> None:
        data, archive = self.root / "data", self.root / "archive"
        if data.exists():
            archive.mkdir(exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(data.stat().st_mtime))
            target = archive / f"data-{stamp}"
            n = 1
            while target.exists():
                n += 1
                target = archive / f"data-{stamp}-{n}"
            data.rename(target)
        if archive.is_dir():
            for old in sorted(p for p in archive.iterdir() if p.is_dir())[:-ARCHIVES_KEPT]:
                shutil.rmtree(old, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc is not None else None

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop_child(self.proc, signal.SIGTERM, 10)


HISTORY_SERIES = ('up{job="lab"}', "lab_probe_success", "lab_replication_lag_seconds")
"""What drills read first: every target, the SLI and the lag (the RPO's lookback). The lag
appears only once the exporter has polled the databases, seconds after the targets' `up`."""


def history_seconds(url: str, wanted: float) -> float:
    """Seconds of gap-free history (up to about `wanted` + 1) the Prometheus at `url` holds
    for the least-covered of `HISTORY_SERIES`: 1 s scrapes, so n samples span n - 1 seconds
    (0 for a series it has not seen yet)."""
    window = int(wanted) + 2
    count = min(
        _scalar(url, f"min(count_over_time({series}[{window}s]))") for series in HISTORY_SERIES
    )
    return max(0.0, count - 1)


def scraped_targets(url: str, since: float) -> int:
    """How many targets the Prometheus at `url` has scraped successfully after `since`."""
    return int(_scalar(url, f"count(timestamp(up) > {since:.3f} and up == 1)"))


def _scalar(url: str, expr: str) -> float:
    """The one value of an instant query; 0 when there is none or Prometheus does not answer."""
    query = urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as r:
            result = json.loads(r.read())["data"]["result"]
    except (OSError, ValueError, KeyError):
        return 0.0
    return float(result[0]["value"][1]) if result else 0.0
