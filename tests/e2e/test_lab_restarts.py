"""The lab as a user drives it: `lab up` then `run` at once, and again after `lab down; lab up`.

Real PostgreSQL and Prometheus, through `drillctl`. Before the lab waited for its metric
history, a drill right after `lab up` aborted ("not enough data"); before each session got
a fresh TSDB with stable target names, a drill after `lab down; lab up` was inconclusive for
five minutes ("the SLI query returned 2 series"), the previous session's series still
answering for Prometheus's lookback.
"""

from __future__ import annotations

import contextlib
import json

import pytest

from runner.lab.launcher import READY_HISTORY_SECONDS
from runner.scenario import loader
from tests.infra.lab import REPO, start_lab

pytestmark = pytest.mark.lab


def test_lab_up_then_run_at_once_and_again_after_a_restart() -> None:
    with contextlib.contextmanager(start_lab)() as lab:  # `drillctl lab up`, then nothing
        for session in range(2):
            if session:
                down = lab.drillctl("lab", "down", "--state-dir", str(lab.state_dir))
                assert down.returncode == 0, down.stderr
                up = lab.drillctl("lab", "up", "--state-dir", str(lab.state_dir), "-o", "json")
                assert up.returncode == 0, up.stdout + up.stderr
                # (whether it had to wait for history depends on how long start-up took)
                assert up.stderr.rstrip().endswith("lab: ready")
                streaming = json.loads(up.stdout)["sites"]["west"]["streaming"]
                assert streaming, "lab up returned before replication streamed"
            code, run, log = lab.run_drill("region-failover.yaml")
            assert run["status"] == "passed", f"session {session}: {run['reason']}\n{log}"
            assert code == 0
            assert run["steadyState"]["before"]["passed"] is True
            # one series per metric: nothing of a previous session answers any more
            assert lab.prometheus("count(lab_probe_success)") == 1
            assert lab.prometheus('count(up{job="lab"})') == 3
        archived = sorted(p.name for p in (lab.state_dir / "prometheus" / "archive").iterdir())
        assert len(archived) == 1 and all(name.startswith("data-") for name in archived)


def test_lab_up_waits_for_the_shipped_scenarios_steady_state_windows() -> None:
    """READY_HISTORY_SECONDS covers every shipped lab scenario's window plus two scrapes."""
    windows = [
        check.window.total_seconds()
        for path in sorted((REPO / "scenarios" / "lab").glob("*.yaml"))
        for check in loader.load_scenario(path).spec.steady_state
    ]
    assert windows and max(windows) + 2 <= READY_HISTORY_SECONDS
