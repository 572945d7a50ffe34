"""Game days in the local lab with real `schedule serve` replicas: nothing vanishes.

Two replicas (file leader election, one SQLite store) run a lab drill: a network
partition held for minutes (`observe: 2m`), so a test can act while it is injected.

* a drill file broken between firings: the last good version runs;
* SIGTERM to the leader while its drill runs, with fires coming due during its shutdown:
  the standby takes over at once, runs one fire and records the other as `running`;
* kill -9 of the leader while its drill runs: the standby takes over, finds the dead
  run, removes its fault, releases its locks and says `crashed` in the record, the
  history, the metrics and a failure notification, within a bound.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.infra.lab import REPO, Lab
from tests.scheduler.receiver import Receiver, receiving
from tests.scheduler.replicas import drillctl, history, replicas, wait_until
from tests.scheduler.test_control import make_due

pytestmark = pytest.mark.lab

DRILL = """\
apiVersion: drill-runner.dev/v1alpha1
kind: Drill
metadata:
  name: {name}
spec:
  scenarios:
    - path: {scenario}
  targets:
    primary:
      lab: {{site: east, stateDir: {state}}}
    secondary:
      lab: {{site: west, stateDir: {state}}}
  prometheus:
    lab: true
  schedule:
    cron: "0 3 * * *"
    misfireGrace: 10m
  notifications:
    - name: oncall
      url: {{env: GAME_DAY_HOOK}}
      on: [start, finish, failure, skip]
"""


@pytest.fixture
def game_day(lab: Lab, tmp_path: Path) -> Iterator[tuple[Path, Receiver]]:
    """A work folder with the drill `game-day` (and `other`, whose lab is not up), and a
    webhook receiver; the lab is healthy and steady before and has no fault after."""
    lab.restore()  # an earlier test of the session may have left it broken
    wait_steady(lab)
    scenario = (REPO / "scenarios" / "lab" / "network-partition.yaml").read_text()
    scenario = scenario.replace("duration: 20s", "duration: 5m").replace(
        "observe: 20s", "observe: 2m"
    )
    (tmp_path / "drills").mkdir()
    (tmp_path / "drills" / "partition.yaml").write_text(scenario)
    for name, state in (("game-day", lab.state_dir), ("other", tmp_path / "no-lab")):
        (tmp_path / "drills" / f"{name}.yaml").write_text(
            DRILL.format(name=name, scenario="partition.yaml", state=state)
        )
    with receiving() as hook:
        yield tmp_path, hook
    wait_until("no lab fault left", lambda: lab.status()["faults"] == [], 60)


def wait_steady(lab: Lab) -> None:
    """Until the standby has been close for a steady-state window (after a partition)."""
    wait_until(
        "a caught-up standby",
        lambda: (
            (lag := lab.prometheus("max_over_time(max(lab_replication_lag_seconds)[12s:1s])"))
            is not None
            and lag < 1
        ),
        90,
    )


def start(work: Path, hook: Receiver, names: list[str]) -> Any:
    return replicas(
        work,
        names,
        store=f"sqlite:///{work / 'store.sqlite'}",
        drills=work / "drills",
        results=work / "results",
        env={"GAME_DAY_HOOK": f"{hook.url}/oncall"},
    )


def record(work: Path) -> dict[str, Any] | None:
    found = sorted((work / "results").glob("*/run.json"))
    if not found:
        return None
    try:
        data: dict[str, Any] = json.loads(found[-1].read_text())
    except ValueError:
        return None
    return data


def injected(work: Path) -> dict[str, Any] | None:
    """The run record once its fault is confirmed and it observes."""
    run = record(work)
    if run and any(p.get("name") == "observe" for p in run.get("phases", [])):
        return run
    return None


def store_rows(work: Path, table: str) -> list[dict[str, Any]]:
    with sqlite3.connect(work / "store.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table}")]


def test_a_drill_file_broken_between_firings_runs_its_last_good_version(
    lab: Lab, game_day: tuple[Path, Receiver]
) -> None:
    work, hook = game_day
    with start(work, hook, ["a"]) as (a,):
        drill = work / "drills" / "game-day.yaml"
        text = drill.read_text()
        drill.write_text(text.replace("  prometheus:", "  prometheus"))  # a key loses its colon
        bad_line = text.splitlines().index("  prometheus:") + 1
        wait_until("the reload", lambda: "keeping its last good version" in a.log, 15)
        listed = drillctl(
            "schedule",
            "list",
            f"--drills={work / 'drills'}",
            cwd=work,
            store=f"sqlite:///{work / 'store.sqlite'}",
        )
        assert listed.returncode == 0, listed.stderr
        assert f"{drill}:{bad_line}:3: YAML syntax error: could not find expected ':'" in (
            listed.stdout
        )
        asked = drillctl(
            "schedule", "run-now", "game-day", cwd=work, store=f"sqlite:///{work / 'store.sqlite'}"
        )
        assert asked.returncode == 0, asked.stderr
        run = wait_until("the last good version injecting its fault", lambda: injected(work), 60)
        assert run["drill"]["path"] == str(drill)
        assert [f["fault"] for f in run["faults"]] == ["split-sites"]
        stop = lab.drillctl("abort", run["runId"], "--results", str(work / "results"))
        assert stop.returncode == 0 and "ended: aborted" in stop.stdout, stop.stderr
        wait_until("the drill run's end", lambda: "drill game-day finished: aborted" in a.log, 60)
    rows = [r for r in history(work / "store.sqlite") if r["kind"] == "drill"]
    assert [(r["drill"], r["status"]) for r in rows] == [("game-day", "aborted")]


def test_fires_due_while_the_leader_stops_are_run_or_recorded_by_the_standby(
    lab: Lab, game_day: tuple[Path, Receiver]
) -> None:
    work, hook = game_day
    store = f"sqlite:///{work / 'store.sqlite'}"
    with start(work, hook, ["a", "b"]) as (a, b):
        assert (a.ready(), b.ready()) == ("leader", "standby")
        assert drillctl("schedule", "run-now", "game-day", cwd=work, store=store).returncode == 0
        run = wait_until("game-day injected on a", lambda: injected(work), 60)
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        for drill in ("game-day", "other"):
            make_due(store, drill, due)
        sigterm = datetime.now(UTC)
        stopped_in = a.terminate(timeout=120)  # a aborts game-day: removes the partition,
        stopped = datetime.now(UTC)  # waits for the standby to catch up, then exits
        assert a.proc.returncode == 0, a.log
        assert sigterm < due < stopped, (sigterm, due, stopped)
        wait_until("b leads", lambda: b.ready() == "leader", 10)

        def ended() -> list[dict[str, Any]] | None:
            rows = [r for r in history(work / "store.sqlite") if r["kind"] in ("drill", "skipped")]
            return rows if len(rows) == 3 else None

        rows = wait_until("three ends: a's abort, b's run of other, b's skip", ended, 30)
    ends = {(r["drill"], r["kind"], r["status"]) for r in rows}
    assert ends == {
        ("game-day", "drill", "aborted"),  # a's run, stopped by SIGTERM
        ("other", "drill", "error"),  # due during a's shutdown, run by b (its lab is not up)
        ("game-day", "skipped", "skipped"),  # due while a still cleaned it up
    }, rows
    [skip] = [r for r in rows if r["kind"] == "skipped"]
    assert skip["reason"].startswith("running: the drill is running on a (pid "), skip
    assert datetime.fromisoformat(skip["scheduled_for"]).replace(tzinfo=UTC) == due
    assert (
        "the scheduler is shutting down"
        in json.loads((work / "results" / run["runId"] / "run.json").read_text())["reason"]
    )
    into = (due - sigterm).total_seconds()
    print(f"a's graceful stop took {stopped_in:.1f}s; the due instant fell {into:.1f}s into it")


def test_kill_9_of_the_leader_mid_drill_the_standby_finalises_the_run(
    lab: Lab, game_day: tuple[Path, Receiver]
) -> None:
    work, hook = game_day
    with start(work, hook, ["a", "b"]) as (a, b):
        store = f"sqlite:///{work / 'store.sqlite'}"
        assert drillctl("schedule", "run-now", "game-day", cwd=work, store=store).returncode == 0
        run = wait_until("game-day injected on a", lambda: injected(work), 60)
        run_id = run["runId"]
        [fault] = lab.status()["faults"]
        assert fault["run_id"] == run_id
        assert (lab.state_dir / "locks" / "east.lock").exists()
        t0 = time.monotonic()
        a.kill()
        closed = wait_until(
            "the record closed as crashed",
            lambda: r if (r := record(work)) and r["status"] == "crashed" else None,
            60,
        )
        closed_in = time.monotonic() - t0
        assert lab.status()["faults"] == []
        faults_gone_in = time.monotonic() - t0
        assert b.ready() == "leader"
        metrics = wait_until(
            "b's crashed metrics",
            lambda: m if 'status="crashed"} 1.0' in (m := b.metrics()) else None,
            10,
        )
        failure = wait_until(
            "the failure notification",
            lambda: [x for x in hook.bodies("/oncall") if x.get("status") == "crashed"],
            20,
        )
    assert closed["runId"] == run_id and f"process {a.proc.pid}" in closed["reason"]
    assert closed["crash"]["faultsRemoved"] and not closed["crash"]["faultsLeft"]
    assert sorted(closed["crash"]["locksReleased"]) == ["primary", "secondary"]
    assert not list((lab.state_dir / "locks").glob("*.lock"))
    rows = [(r["kind"], r["status"]) for r in history(work / "store.sqlite")]
    assert ("scenario", "crashed") in rows and ("drill", "crashed") in rows
    assert 'drill_runner_drill_last_status{drill="game-day",status="crashed"} 1.0' in metrics
    assert (
        'drill_runner_scenario_last_status{drill="game-day",scenario="lab-network-partition",'
        'status="crashed"} 1.0' in metrics
    )
    [message] = failure
    assert message["event"] == "drill.finished" and message["scenarios"][0]["runId"] == run_id
    assert hook.bodies("/oncall")[0]["event"] == "drill.started"
    assert store_rows(work, "drill_runner_active") == []
    # The closed record reads like any other (exit 3: the verdict of a crashed run).
    results = str(work / "results")
    for fmt in ("text", "md", "html", "json"):
        out = work / f"report.{fmt}"
        shown = drillctl(
            "report", run_id, "--results", results, "--format", fmt, "--out", str(out), cwd=work
        )
        assert shown.returncode == 3 and "Traceback" not in shown.stderr, (fmt, shown.stderr)
        assert "crashed" in out.read_text(encoding="utf-8").lower(), fmt
    status = drillctl("status", "--results", results, "--output", "json", cwd=work)
    assert status.returncode == 0 and json.loads(status.stdout)["activeRuns"] == []
    print(f"kill -9: record crashed {closed_in:.1f}s later, no lab fault at {faults_gone_in:.1f}s")
    assert closed_in < 15
