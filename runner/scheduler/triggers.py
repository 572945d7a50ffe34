"""When a drill fires: the nominal fire times of its `spec.schedule`, and blackouts.

The cron line and time zone are turned into an APScheduler `CronTrigger` by
`runner.scenario.cron`, the one parser that `drillctl validate` uses too, so a file that
validates is a file the scheduler accepts. Blackout windows are half-open
`[start, end)`; a bound without a zone is read in the schedule's time zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from runner.scenario import model
from runner.scenario.cron import crontab_weekdays, trigger_for, zone

__all__ = ["blackout_at", "crontab_weekdays", "next_fire_times", "trigger_for", "zone"]


def next_fire_times(schedule: model.Schedule, after: datetime, count: int) -> list[datetime]:
    """The next `count` nominal fire times strictly after `after` (no jitter), in UTC."""
    trigger = trigger_for(schedule, jitter=False)
    found: list[datetime] = []
    previous: datetime | None = None
    now = after + timedelta(microseconds=1)
    while len(found) < count:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        found.append(fire.astimezone(ZoneInfo("UTC")))
        previous, now = fire, fire + timedelta(microseconds=1)
    return found


def blackout_at(schedule: model.Schedule, at: datetime) -> model.Blackout | None:
    """The blackout window containing `at`, if any."""
    tz = zone(schedule)
    for window in schedule.blackouts:
        start = window.start if window.start.tzinfo else window.start.replace(tzinfo=tz)
        end = window.end if window.end.tzinfo else window.end.replace(tzinfo=tz)
        if start <= at < end:
            return window
    return None
