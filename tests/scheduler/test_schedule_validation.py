"""`drillctl validate` accepts exactly the schedules the scheduler schedules.

Each case is a drill file; `validate` judges it, and a real scheduler on a real store
(the oracle: does the job end up in the store with a next run time?) judges it too. They
must agree, and every refusal is located at the cron or time zone value.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runner.clock import SystemClock
from runner.errors import InvalidInputError
from runner.scenario import loader
from runner.scheduler import control
from runner.scheduler.firing import FiringSettings
from runner.scheduler.leader import SoleLeader
from runner.scheduler.service import SchedulerService, ServiceSettings
from tests.scheduler.conftest import FakeRuns, write_drill

GOOD = [
    ("0 3 * * *", "UTC"),
    ("30 9 * * TUE", "Europe/Berlin"),
    ("0 9 * * 1-5", "America/St_Johns"),
    ("0 9 * * 5-7", "Asia/Kolkata"),
    ("*/15 * * * *", "Etc/GMT-14"),
    ("0 3 29 2 *", "UTC"),  # a leap day comes
    ("30 2 * * *", "Europe/Berlin"),  # skipped once a year by daylight saving, still fires
]
BAD = [
    ("0 3 * *", "UTC", "cron", "five fields"),
    ("0 25 * * *", "UTC", "cron", "higher than the maximum"),
    ("0 3 * * 9", "UTC", "cron", "is not 0-7"),
    ("0 3 30 2 *", "UTC", "cron", "no date ever matches"),
    ("0 3 L * *", "UTC", "cron", "Unrecognized expression"),
    ("@daily", "UTC", "cron", "five fields"),
    ("*/0 * * * *", "UTC", "cron", "Increment"),
    ("0 3 * * 1#2", "UTC", "cron", "is not 0-7"),
    ("0 3 * * *", "Mars/Olympus", "timezone", "unknown time zone"),
    ("0 3 * * *", "../../etc/passwd", "timezone", "unknown time zone"),
    ("0 3 * * *", "'UTC '", "timezone", "unknown time zone"),
]


def test_validate_and_the_scheduler_agree_on_every_schedule(tmp_path: Path, runs: FakeRuns) -> None:
    paths: dict[str, tuple[Path, bool, str, str]] = {}
    for i, (cron, tz) in enumerate(GOOD):
        paths[f"good-{i}"] = (
            write_drill(tmp_path, f"good-{i}", cron=cron, timezone=tz),
            True,
            "",
            "",
        )
    for i, (cron, tz, field, message) in enumerate(BAD):
        path = write_drill(tmp_path, f"bad-{i}", cron=cron, timezone=tz)
        paths[f"bad-{i}"] = (path, False, field, message)

    validated: dict[str, bool] = {}
    for name, (path, _, field, message) in paths.items():
        try:
            loader.load_drill(path)
            validated[name] = True
        except InvalidInputError as e:
            validated[name] = False
            [issue] = e.issues
            assert issue.field == f"spec.schedule.{field}" and message in issue.message, issue
            line = path.read_text().splitlines()[issue.line - 1]
            assert line.strip().startswith(f"{field}:"), (issue, line)
            assert issue.column == line.index(":") + 3, (issue, line)

    svc = SchedulerService(
        ServiceSettings(
            drills=tmp_path / "drills",
            store_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
            firing=FiringSettings(results_dir=tmp_path / "results"),
        ),
        leader=SoleLeader("solo"),
        clock=SystemClock(),
        run=runs,
    )
    try:
        svc.tick()
        scheduled = {j.drill for j in control.jobs(svc.engine) if j.next_run is not None}
    finally:
        svc.shutdown()
    assert {n for n, ok in validated.items() if ok} == scheduled
    assert {n for n, (_, good, _, _) in paths.items() if good} == scheduled


@pytest.mark.parametrize("output", ["text", "json"])
def test_validate_reports_a_schedule_problem_with_file_line_and_column(
    tmp_path: Path, output: str
) -> None:
    path = write_drill(tmp_path, "nightly", cron="0 3 * * 9", timezone="Mars/Olympus")
    done = subprocess.run(
        [sys.executable, "-m", "runner", "validate", str(path), "--output", output],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = path.read_text().splitlines()
    cron_line = next(i for i, t in enumerate(lines, 1) if "cron:" in t)
    zone_line = next(i for i, t in enumerate(lines, 1) if "timezone:" in t)
    if output == "text":
        assert f"{path}:{cron_line}:11: spec.schedule.cron: cron day-of-week" in done.stdout
        assert f"{path}:{zone_line}:15: spec.schedule.timezone: unknown time zone" in done.stdout
    else:
        assert '"spec.schedule.timezone"' in done.stdout and f'"line": {zone_line}' in done.stdout
