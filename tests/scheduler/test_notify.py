"""Notifications reach a local webhook receiver; the secret URL is in no log and no record."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from runner.clock import FakeClock
from runner.engine.verdict import Status
from runner.scheduler import events as ev
from runner.scheduler.catalog import Catalog
from runner.scheduler.exposition import SchedulerMetrics
from runner.scheduler.firing import DrillFirer, FiringSettings
from runner.scheduler.history import RunHistory
from runner.scheduler.notify import Notifier, NotifySettings
from runner.scheduler.tables import open_store
from tests.scheduler.conftest import T0, FakeRuns, write_drill
from tests.scheduler.receiver import receiving

SECRET = "T000-B111-XyZsecretTOKEN42"

NOTIFICATIONS = """\
  notifications:
    - name: team chat
      type: slack
      url: {file: ../secrets/slack-url}
      on: [start, finish, failure, skip]
    - name: incident bot
      type: webhook
      url: {env: DRILL_TEST_HOOK_URL}
      on: [failure, skip]
    - name: missing secret
      type: webhook
      url: {env: DRILL_TEST_UNSET_VARIABLE}
      on: [finish]
"""


def test_webhooks_on_start_finish_failure_and_skip_without_leaking_the_secret(
    tmp_path: Path,
    clock: FakeClock,
    runs: FakeRuns,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with receiving() as hook:
        (tmp_path / "secrets").mkdir()
        (tmp_path / "secrets" / "slack-url").write_text(f"{hook.url}/slack/{SECRET}\n")
        env_url = f"{hook.url}/hook/{SECRET}"
        write_drill(
            tmp_path,
            notifications=NOTIFICATIONS,
            blackouts=(("freeze", "2026-12-15T00:00:00Z", "2027-01-05T00:00:00Z"),),
        )
        catalog = Catalog(tmp_path / "drills")
        catalog.refresh()
        engine = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
        notifier = Notifier(
            catalog.scheduled,
            clock=clock,
            settings=NotifySettings(timeout_seconds=5, attempts=3, backoff_seconds=(2.0,)),
        )
        os.environ["DRILL_TEST_HOOK_URL"] = env_url
        try:
            firer = DrillFirer(
                drills=catalog.scheduled,
                run=runs,
                clock=clock,
                sinks=[RunHistory(engine), SchedulerMetrics(), notifier],
                settings=FiringSettings(results_dir=tmp_path / "results"),
            )
            firer.fire("nightly", T0, ev.Trigger.SCHEDULE)  # passes
            assert notifier.flush(10)
            runs.status = Status.FAILED
            hook.fail_next = 2  # the slack start message needs a third attempt
            before = clock.monotonic()
            firer.fire("nightly", T0, ev.Trigger.SCHEDULE)  # fails
            assert notifier.flush(10)
            assert clock.monotonic() - before == 4.0  # two backoffs of 2 s, on the fake clock
            firer.fire("nightly", T0.replace(month=12, day=20), ev.Trigger.SCHEDULE)  # skipped
            assert notifier.close(10)
        finally:
            del os.environ["DRILL_TEST_HOOK_URL"]

    slack = hook.bodies(f"/slack/{SECRET}")
    assert [set(b) for b in slack] == [{"text"}] * 5
    texts = [b["text"] for b in slack]
    assert texts[0].startswith("Drill *nightly* started (schedule): site-loss")
    assert texts[1].startswith("Drill *nightly* PASSED")
    assert "site-loss: passed (fake passed) RTO 42s / 300s RPO unknown / 30s" in texts[1]
    assert texts[3].startswith("Drill *nightly* FAILED")
    assert texts[4].startswith("Drill *nightly* skipped its 2026-12-20 03:00 UTC run: blackout")
    plain = hook.bodies(f"/hook/{SECRET}")
    assert [b["event"] for b in plain] == ["drill.finished", "drill.skipped"]
    assert plain[0]["status"] == "failed" and plain[0]["scenarios"][0]["rtoSeconds"] == 42.0
    assert plain[1]["reason"] == "blackout"

    # What went wrong was logged, by name, never with the URL.
    assert "'team chat': attempt #1/3 failed: HTTP 500" in caplog.text
    unset = [r.getMessage() for r in caplog.records if "missing secret" in r.getMessage()]
    assert unset and all(
        m == "drill nightly, notification 'missing secret' not sent: its URL: "
        "environment variable DRILL_TEST_UNSET_VARIABLE is not set"
        for m in unset
    ), unset
    assert SECRET not in caplog.text
    engine.dispose()
    for f in tmp_path.rglob("*"):
        if f.is_file() and f.name != "slack-url":
            assert SECRET.encode() not in f.read_bytes(), f


def test_an_unreachable_webhook_is_retried_and_never_fails_the_drill(
    tmp_path: Path, clock: FakeClock, runs: FakeRuns, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "slack-url").write_text(f"http://127.0.0.1:{port}/x/{SECRET}")
    write_drill(
        tmp_path,
        notifications="  notifications:\n    - name: chat\n      type: slack\n"
        "      url: {file: ../secrets/slack-url}\n      on: [finish]\n",
    )
    catalog = Catalog(tmp_path / "drills")
    catalog.refresh()
    firer = DrillFirer(
        drills=catalog.scheduled,
        run=runs,
        clock=clock,
        sinks=[Notifier(catalog.scheduled, clock=clock)],
    )
    caplog.set_level(logging.DEBUG)
    done = firer.fire("nightly", T0, ev.Trigger.SCHEDULE)
    assert isinstance(done, ev.DrillRunFinished) and done.status == "passed"
    notifier = next(s for s in firer.sinks if isinstance(s, Notifier))
    assert notifier.flush(10)  # retried with its backoff, off the firing thread
    assert notifier.close()
    assert "'chat': attempt #3/3 failed: URLError (ConnectionRefusedError)" in caplog.text
    assert "'chat' not delivered (DrillRunFinished): 3 attempts failed" in caplog.text
    assert SECRET not in caplog.text and str(port) not in caplog.text


def test_finished_notifications_link_each_run_to_its_report() -> None:
    from datetime import UTC, datetime

    from runner.scheduler import events as sev
    from runner.scheduler.notify import slack_body, webhook_body

    at = datetime(2026, 1, 1, tzinfo=UTC)
    result = sev.ScenarioRunFinished(
        drill="nightly",
        at=at,
        scenario="site-loss",
        run_id="r1",
        status="failed",
        reason="RTO missed",
        started_at=at,
        report="results/r1/report.html",
    )
    event = sev.DrillRunFinished(
        drill="nightly",
        at=at,
        scheduled_for=at,
        trigger=sev.Trigger.SCHEDULE,
        status="failed",
        results=(result,),
    )
    assert "[run r1] report: results/r1/report.html" in slack_body(event)["text"]
    assert webhook_body(event)["scenarios"][0]["report"] == "results/r1/report.html"
