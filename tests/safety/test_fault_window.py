"""Safety 7: a fault lasts its duration, then the runner removes it, whatever phase the run
is in (not at the end of verification).

On a fake clock the window is exact; against the emulated server over real HTTP, the
oracle is the test's own watch on the object: how long it existed.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

from runner.clock import FakeClock
from runner.kube.client import client_from_url
from runner.kube.resources import chaos_resource
from tests.engine.fakes import World
from tests.engine.test_drill import run_drill, scenario
from tests.safety.conftest import Cluster, drillctl
from tests.safety.files import NS, write


def test_on_a_fake_clock_the_fault_goes_when_its_window_ends(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    faults = [
        {"name": "lose-primary", "type": "cluster-loss", "cluster": "primary", "duration": "30s"}
    ]
    # observe 20 s + two 1 s steps, then verify polls for up to 10 min: the window ends in it
    result = run_drill(tmp_path, world, scenario(faults=faults))
    [fault] = result.record.to_json()["faults"]
    injected = datetime.fromisoformat(fault["injectedAt"])
    removed = datetime.fromisoformat(fault["recoveredAt"])
    assert (removed - injected).total_seconds() == 30.0
    recover = next(p for p in result.record.to_json()["phases"] if p["name"] == "recover-faults")
    assert removed < datetime.fromisoformat(recover["startedAt"])
    assert world.calls.count("remove:lose-primary") == 1  # not again in recover-faults


def test_a_fault_the_way_back_removes_first_is_not_removed_twice(tmp_path: Path) -> None:
    world = World(clock=FakeClock())
    world.fail_steps["promote"] = 1  # the failover fails at once: the way back removes it
    faults = [
        {"name": "lose-primary", "type": "cluster-loss", "cluster": "primary", "duration": "10m"}
    ]
    result = run_drill(tmp_path, world, scenario(faults=faults))
    assert world.calls.count("remove:lose-primary") == 1
    world.clock.advance(3600)  # the window's timer was cancelled: nothing fires later
    assert world.calls.count("remove:lose-primary") == 1
    assert result.record.to_json()["faults"][0]["recoveredAt"]


def test_a_five_second_fault_lives_five_seconds_while_a_step_runs(
    tmp_path: Path, cluster: Cluster
) -> None:
    seen: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        client = client_from_url(cluster.url, cluster="watcher", timeout=5)
        try:
            while not stop.is_set():
                for kind, _obj in client.watch(chaos_resource("PodChaos"), namespace=NS, timeout=1):
                    seen.setdefault(f"{kind}", time.monotonic())
                    if kind == "DELETED":
                        return
        finally:
            client.close()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    long_step = {"name": "a slow failover", "action": "sleep", "duration": "12s"}
    scenario_path, drill = write(
        tmp_path,
        cluster.url,
        faults=[
            {
                "name": "blip",
                "type": "cluster-loss",
                "cluster": "east",
                "duration": "5s",
                "namespaces": ["db"],
            }
        ],
        failover=[long_step],
    )
    started = time.monotonic()
    done = drillctl("run", str(scenario_path), "--drill", str(drill), cwd=tmp_path)
    took = time.monotonic() - started
    stop.set()
    watcher.join(10)
    assert done.returncode == 0, done.stdout + done.stderr
    lived = seen["DELETED"] - seen["ADDED"]
    assert 5.0 <= lived < 8.0, (lived, seen)  # its 5 s window, plus confirmation and removal
    assert took >= 12.0  # the step really ran past the window
    assert cluster.chaos_left() == []
