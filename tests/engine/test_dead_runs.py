"""Telling a dead run from a live one, and closing its record: only a `running` one changes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.engine.dead_runs import Liveness, judge, process_gone, unrecorded
from runner.journal.status import Status
from runner.journal.writer import mark_crashed
from runner.processes import start_time as process_start

AT = datetime(2026, 3, 10, 3, 5, tzinfo=UTC)


def test_a_process_is_gone_when_its_pid_is_dead_or_belongs_to_a_later_process() -> None:
    host = socket.gethostname()
    me, started = os.getpid(), process_start(os.getpid())
    assert started is not None
    assert process_gone(host, me) is False
    assert process_gone(host, me, started) is False
    assert process_gone(host, me, started + 1) is True  # same pid, another process
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert process_gone(host, done.pid) is True
    assert process_gone("another-host", me) is None  # nobody here can tell
    running = replace(unrecorded("r"), host=host)
    assert judge(replace(running, pid=done.pid)).liveness is Liveness.DEAD
    assert judge(replace(running, pid=me, process_start=started)).liveness is Liveness.RUNNING
    assert judge(replace(running, pid=me, process_start=started + 1)).liveness is Liveness.DEAD
    assert judge(replace(running, pid=None)).liveness is Liveness.UNKNOWN  # names no process
    assert judge(replace(running, host="another-host", pid=me)).liveness is Liveness.UNKNOWN
    assert judge(replace(running, status=Status.PASSED)).liveness is Liveness.FINISHED


@pytest.mark.parametrize(
    ("record", "said"),
    [
        ({"status": "running"}, "marked crashed"),
        ({"status": "passed"}, "already passed"),
        (None, "not found"),
        ("{not json", "unreadable (not JSON)"),
        ([1, 2], "unreadable (not a JSON object)"),
    ],
    ids=["running", "passed", "missing", "corrupt", "list"],
)
def test_only_a_running_record_is_marked_crashed(tmp_path: Path, record: object, said: str) -> None:
    run_id = "site-loss-20260310-030000-beef"
    folder = tmp_path / run_id
    if record is not None:
        folder.mkdir()
        text = record if isinstance(record, str) else json.dumps(record)
        (folder / "run.json").write_text(text)
    before = (folder / "run.json").read_text() if record is not None else None
    details = {"by": "test", "faultsRemoved": ["east: lab/network-partition x"], "token": "s3"}
    assert mark_crashed(tmp_path, run_id, at=AT, reason="process gone", details=details) == said
    if said != "marked crashed":
        if before is not None:
            assert (folder / "run.json").read_text() == before
        return
    data = json.loads((folder / "run.json").read_text())
    assert data["status"] == "crashed" and data["reason"] == "process gone"
    assert data["finishedAt"] == AT.isoformat()
    assert data["crash"]["faultsRemoved"] == ["east: lab/network-partition x"]
    assert data["crash"]["token"] == "<redacted>"
    [event] = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()]
    assert event["action"] == "run.crashed" and event["actor"] == "test"
    assert mark_crashed(tmp_path, "../escape", at=AT, reason="x", details={}) == (
        "not written (not a run id)"
    )


def test_a_site_lock_whose_pid_was_reused_is_stale(tmp_path: Path) -> None:
    """A lab site lock names its process by pid and start time: the same pid started at
    another time (a reused pid) is a dead holder, so status calls it expired, cleanup can
    release it and the next run takes the site; the same pid and start time holds it."""
    from runner.errors import LockHeldError
    from runner.lab.lock import SiteLock
    from tests.kube.conftest import make_run

    me, started = os.getpid(), process_start(os.getpid())
    assert started is not None
    path = tmp_path / "east.lock"
    lock = SiteLock("primary", path)

    def held_by(pid_start: int) -> None:
        record = {"runId": "old-run-0001", "pid": me, "pidStart": pid_start, "since": "earlier"}
        path.write_text(json.dumps(record))

    held_by(started)
    holder = lock.holder()
    assert holder is not None and (holder.run_id, holder.expired) == ("old-run-0001", False)
    with pytest.raises(LockHeldError, match="old-run-0001"):
        lock.acquire(make_run("new-run-0001"))

    held_by(started + 1)  # the pid now belongs to a later process
    holder = lock.holder()
    assert holder is not None and holder.expired
    assert lock.release_dead("someone-else-0001") is False and path.exists()
    assert lock.release_dead("old-run-0001") is True and not path.exists()
    held_by(started + 1)
    lock.acquire(make_run("new-run-0001"))  # taken over
    assert json.loads(path.read_text())["runId"] == "new-run-0001"
    assert json.loads(path.read_text())["pidStart"] == started
