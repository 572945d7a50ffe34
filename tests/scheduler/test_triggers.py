"""Cron, time zones, crontab weekdays, jitter and blackout windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runner.errors import ConfigurationError
from runner.scenario import model
from runner.scheduler.triggers import (
    blackout_at,
    crontab_weekdays,
    next_fire_times,
    trigger_for,
)


def schedule(**kw: object) -> model.Schedule:
    return model.Schedule.model_validate({"cron": "30 9 * * TUE", **kw})


def test_cron_in_its_time_zone_across_daylight_saving() -> None:
    berlin = schedule(timezone="Europe/Berlin")
    # Tuesdays 09:30 Berlin: UTC+1 in March before the switch, UTC+2 after it.
    fires = next_fire_times(berlin, datetime(2026, 3, 16, tzinfo=UTC), 3)
    assert fires == [
        datetime(2026, 3, 17, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 24, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 31, 7, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("5-7", "fri,sat,sun"),
        ("*/2", "tue,thu,sat,sun"),
        ("TUE", "TUE"),
    ],
    ids=["weekdays", "sunday-0", "sunday-7", "to-sunday", "step", "names-unchanged"],
)
def test_crontab_weekday_numbers_mean_what_they_mean_in_crontab(field: str, names: str) -> None:
    assert crontab_weekdays(field) == names


def test_numeric_monday_is_monday() -> None:
    fires = next_fire_times(
        schedule(cron="0 6 * * 1"), datetime(2026, 3, 10, tzinfo=UTC), 2
    )  # 2026-03-10 is a Tuesday
    assert [f.strftime("%a %d") for f in fires] == ["Mon 16", "Mon 23"]


def test_jitter_stays_within_its_bound() -> None:
    trigger = trigger_for(schedule(cron="0 3 * * *", jitter="10m"))
    now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    for _ in range(50):
        fire = trigger.get_next_fire_time(None, now)
        nominal = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
        assert nominal <= fire <= nominal + timedelta(minutes=10)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cron": "0 3 * *"}, "five fields"),
        ({"cron": "0 25 * * *"}, "cron '0 25"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"cron": "0 3 * * 9"}, "not 0-7"),
    ],
    ids=["fields", "hour", "zone", "weekday"],
)
def test_bad_schedules_are_configuration_errors(kw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        trigger_for(schedule(**kw))


def test_blackout_is_half_open_and_naive_bounds_use_the_schedule_zone() -> None:
    s = schedule(
        timezone="Europe/Berlin",
        blackouts=[
            {"name": "freeze", "start": "2026-12-15T00:00:00Z", "end": "2027-01-05T00:00:00Z"},
            {"name": "local", "start": "2026-06-01T00:00:00", "end": "2026-06-02T00:00:00"},
        ],
    )
    assert blackout_at(s, datetime(2026, 12, 14, 23, 59, tzinfo=UTC)) is None
    hit = blackout_at(s, datetime(2026, 12, 15, tzinfo=UTC))
    assert hit is not None and hit.name == "freeze"
    assert blackout_at(s, datetime(2027, 1, 5, tzinfo=UTC)) is None
    # 2026-06-01 00:00 Berlin is 2026-05-31 22:00 UTC
    local = blackout_at(s, datetime(2026, 5, 31, 22, 0, tzinfo=UTC))
    assert local is not None and local.name == "local"
    assert blackout_at(s, datetime(2026, 5, 31, 21, 59, tzinfo=UTC)) is None
