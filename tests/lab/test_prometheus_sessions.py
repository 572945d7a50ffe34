"""The lab's Prometheus across sessions: a fresh TSDB each start (the old one archived, the
newest three kept) and targets named by role, not by their ports. Real Prometheus."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from runner.lab.prometheus import ARCHIVES_KEPT, PrometheusProcess
from runner.lab.state import free_port

pytestmark = pytest.mark.prometheus


@pytest.fixture(autouse=True)
def _needs_prometheus() -> None:
    if shutil.which("prometheus") is None:
        pytest.skip("needs the prometheus binary (scripts/setup.sh installs it)")


def _targets(url: str) -> list[dict[str, str]]:
    """The active targets' labels, once discovery has sent them (about 5 s after start)."""
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(f"{url}/api/v1/targets", timeout=5) as r:
            active = json.loads(r.read())["data"]["activeTargets"]
        if active or time.monotonic() > deadline:
            return [t["labels"] for t in active]
        time.sleep(0.2)


def test_each_start_archives_the_previous_tsdb_and_names_targets_stably(tmp_path: Path) -> None:
    sessions = ARCHIVES_KEPT + 2
    seen_instances = []
    for session in range(sessions):
        ports = {name: free_port() for name in ("supervisor", "orders-east", "orders-west")}
        prom = PrometheusProcess(
            tmp_path, free_port(), {n: f"127.0.0.1:{p}" for n, p in ports.items()}
        )
        prom.start()
        try:
            if session < 2:  # other ports, the same names
                labels = _targets(prom.url)
                seen_instances.append(sorted(t["instance"] for t in labels))
                assert sorted(t["job"] for t in labels) == ["lab"] * 3
            assert (tmp_path / "data").is_dir()
            (tmp_path / "data" / f"marker-{session}").write_text("")
        finally:
            prom.stop()
        archive = tmp_path / "archive"
        archived = sorted(archive.iterdir()) if archive.exists() else []
        assert len(archived) == min(session, ARCHIVES_KEPT)
    # the same names whatever the ports were, session after session
    assert seen_instances == [["orders-east", "orders-west", "supervisor"]] * 2
    # the newest archives are kept: each holds its own session's data
    archived = sorted((tmp_path / "archive").iterdir())
    markers = [sorted(p.name for p in d.glob("marker-*")) for d in archived]
    assert markers == [[f"marker-{s}"] for s in range(sessions - 1 - ARCHIVES_KEPT, sessions - 1)]
    live = [p.name for p in (tmp_path / "data").glob("marker-*")]
    assert live == [f"marker-{sessions - 1}"]
