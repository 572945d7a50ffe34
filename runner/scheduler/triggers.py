"""When a drill fires: its `spec.schedule` as an APScheduler 3 `CronTrigger`, and blackouts.

The drill's `cron` is a standard five-field crontab line. APScheduler 3 numbers weekdays
from Monday = 0, crontab from Sunday = 0 (APScheduler issue 286), so numeric weekdays are
translated to names here and `0 9 * * 1` means Monday in a drill file, as in crontab.
Blackout windows are half-open `[start, end)`; a bound without a zone is read in the
schedule's time zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from runner.errors import ConfigurationError
from runner.scenario import model

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def zone(schedule: model.Schedule) -> ZoneInfo:
    try:
        return ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"unknown time zone {schedule.timezone!r}") from None


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (Sunday = 0 or 7) as APScheduler 3 weekday names."""
    if not any(ch.isdigit() for ch in field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _day(a), _day(b)
        else:
            first = _day(base)
            last = 6 if step_text else first
        if first > last and last == 0:  # "5-7" after 7 -> 0: up to Sunday
            last = 7
        if step < 1 or first > last:
            raise ConfigurationError(f"cron day-of-week {field!r}: bad range {part!r}")
        days.update(d % 7 for d in range(first, last + 1, step))
    ordered = sorted(days, key=lambda d: (d - 1) % 7)  # Monday first, like APScheduler
    return ",".join(_CRON_DAYS[d] for d in ordered)


def _day(text: str) -> int:
    text = text.strip().lower()
    if text in _CRON_DAYS:
        return _CRON_DAYS.index(text)
    if not text.isdigit() or int(text) > 7:
        raise ConfigurationError(f"cron day-of-week: {text!r} is not 0-7 or a day name")
    return int(text)  # 7 stays 7 so that "5-7" is a range; days are taken modulo 7


def trigger_for(schedule: model.Schedule, *, jitter: bool = True) -> CronTrigger:
    """The drill's trigger; `jitter=False` gives the nominal fire times (for display)."""
    fields = schedule.cron.split()
    if len(fields) != 5:
        raise ConfigurationError(
            f"cron {schedule.cron!r}: give five fields (minute hour day month weekday)"
        )
    minute, hour, day, month, weekday = fields
    seconds = int(schedule.jitter.total_seconds())
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekday),
            timezone=zone(schedule),
            jitter=seconds if jitter and seconds > 0 else None,
        )
    except ValueError as e:
        raise ConfigurationError(f"cron {schedule.cron!r}: {e}") from None


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
