"""What a drill's `spec.schedule` means: its cron line and time zone as a `CronTrigger`.

The one parser of schedules: `drillctl validate` checks a drill with it (each problem at
its file:line:column) and the scheduler builds its APScheduler 3 triggers with it, so a
drill that validates is a drill the scheduler accepts. The `cron` is a standard
five-field crontab line. APScheduler 3 numbers weekdays from Monday = 0, crontab from
Sunday = 0 (APScheduler issue 286), so numeric weekdays are translated to names here and
`0 9 * * 1` means Monday in a drill file, as in crontab. APScheduler is imported only
when a schedule is checked or built.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runner.errors import ConfigurationError
from runner.scenario import model

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger


def zone(schedule: model.Schedule) -> ZoneInfo:
    try:
        return ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigurationError(f"unknown time zone {schedule.timezone!r}") from None


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


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
    from apscheduler.triggers.cron import CronTrigger

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
    except (ValueError, TypeError, OverflowError) as e:
        raise ConfigurationError(f"cron {schedule.cron!r}: {e}") from None


def problems(schedule: model.Schedule) -> list[tuple[str, str]]:
    """What the scheduler would refuse in a schedule, as (field under spec.schedule, message)."""
    found: list[tuple[str, str]] = []
    try:
        tz = zone(schedule)
    except ConfigurationError as e:
        found.append(("timezone", str(e)))
        tz = ZoneInfo("UTC")
    try:
        trigger = trigger_for(schedule.model_copy(update={"timezone": tz.key}), jitter=False)
    except ConfigurationError as e:
        found.append(("cron", str(e)))
    else:
        # A date that never comes (30 February) gives a job with no next run time: one
        # that the scheduler would keep, silently, without ever running it.
        if trigger.get_next_fire_time(None, _EPOCH) is None:
            found.append(("cron", f"cron {schedule.cron!r}: no date ever matches it"))
    for i, window in enumerate(schedule.blackouts):
        start = window.start if window.start.tzinfo else window.start.replace(tzinfo=tz)
        end = window.end if window.end.tzinfo else window.end.replace(tzinfo=tz)
        if end <= start:
            found.append((f"blackouts[{i}].end", "must be after start"))
    return found
