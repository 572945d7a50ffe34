"""A webhook that hangs and one that refuses delay neither a drill nor a shutdown.

A real `schedule serve` process, three webhooks on one drill: one accepts connections and
never answers, one refuses them (nothing listens), one works. A run-now must start the
drill at once, the working webhook must get its messages at once, and SIGTERM must end
the process within the notification drain time (10 s), whatever the other two do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from tests.scheduler.conftest import write_drill
from tests.scheduler.receiver import receiving
from tests.scheduler.replicas import (
    drillctl,
    free_port,
    history,
    hold_connections,
    replicas,
    wait_until,
)

NOTIFY = """\
  notifications:
    - name: hangs
      url: {env: HOOK_HANGS}
      on: [start, finish, failure]
    - name: refuses
      url: {env: HOOK_REFUSES}
      on: [start, finish, failure]
    - name: works
      url: {env: HOOK_WORKS}
      on: [start, finish, failure]
"""

DRAIN_SECONDS = 10.0  # NotifySettings.drain_seconds
TIMEOUT_SECONDS = 10.0  # NotifySettings.timeout_seconds: one attempt at the hanging webhook


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def requests(store_path: Path) -> list[dict[str, str]]:
    import sqlite3

    with sqlite3.connect(store_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM drill_runner_requests")]


def test_a_hanging_and_a_refusing_webhook_delay_no_drill_and_no_shutdown(tmp_path: Path) -> None:
    write_drill(tmp_path, "nightly", notifications=NOTIFY)
    store_path = tmp_path / "store.sqlite"
    store = f"sqlite:///{store_path}"
    hangs, stop_hanging = hold_connections()
    try:
        with receiving() as works:
            env = {
                "HOOK_HANGS": hangs,
                "HOOK_REFUSES": f"http://127.0.0.1:{free_port()}/hook",
                "HOOK_WORKS": f"{works.url}/hook",
            }
            with replicas(
                tmp_path,
                ["solo"],
                store=store,
                drills=tmp_path / "drills",
                results=tmp_path / "results",
                env=env,
            ) as (solo,):
                t0 = time.monotonic()
                asked = drillctl("schedule", "run-now", "nightly", cwd=tmp_path, store=store)
                assert asked.returncode == 0, asked.stderr
                # The lab is not running: the drill starts, cannot reach its targets, ends `error`.
                bodies = wait_until(
                    "the working webhook's start and finish messages",
                    lambda: b if len(b := works.bodies("/hook")) >= 2 else None,
                    15,
                )
                delivered_in = time.monotonic() - t0
                assert [b["event"] for b in bodies] == ["drill.started", "drill.finished"]
                [row] = [r for r in history(store_path) if r["kind"] == "drill"]
                [request] = requests(store_path)
                start_delay = (at(row["started_at"]) - at(request["requested_at"])).total_seconds()
                # Each message against the moment it is about, not against this test's own
                # processes starting: a webhook queued behind the hanging one would wait out
                # its 10-s attempt timeout first.
                sent_at, finished_at = works.arrivals("/hook")[:2]
                started_lag = sent_at - at(row["started_at"]).timestamp()
                finished_lag = finished_at - at(row["finished_at"]).timestamp()
                # Both messages of the hanging webhook are still waiting when SIGTERM comes.
                stopped_in = solo.terminate()
            assert solo.proc.returncode == 0, solo.log
    finally:
        stop_hanging()
    print(
        f"start delay {start_delay:.2f}s, working webhook served in {delivered_in:.2f}s "
        f"(start +{started_lag:.2f}s, finish +{finished_lag:.2f}s), shutdown {stopped_in:.2f}s"
    )
    assert start_delay < 2.0  # run-now request to drill start: one poll (0.2 s) plus work
    assert started_lag < TIMEOUT_SECONDS / 2 and finished_lag < TIMEOUT_SECONDS / 2
    assert stopped_in < DRAIN_SECONDS + 3.0
    log = solo.log
    assert "notification 'refuses': attempt #1/3 failed: URLError (ConnectionRefusedError)" in log
    assert "notification 'works' sent (DrillRunStarted)" in log
    assert "not delivered before shutdown" in log or "notification 'hangs' not delivered" in log
