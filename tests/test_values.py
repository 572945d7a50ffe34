"""Durations and expectations as users write them."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from runner.scenario.values import format_duration, parse_duration, parse_expectation


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("1m30s", 90), ("2d", 172800)],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["fast", "", "5", "m5", "5 m", "-5m", 5, None, True, "9999999d"])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("seconds", [0, 0.25, 1, 59, 90, 3600, 5400, 86400])
def test_durations_round_trip(seconds: float) -> None:
    td = timedelta(seconds=seconds)
    assert parse_duration(format_duration(td)) == td


def test_expectations_compare_numbers_and_durations() -> None:
    assert parse_expectation(">= 0.99").holds(0.99)
    assert not parse_expectation(">= 0.99").holds(0.98)
    lt = parse_expectation("< 5m")
    assert lt.value == 300 and lt.holds(299) and not lt.holds(300)
    assert not parse_expectation("== 1").holds(math.nan)
    assert str(parse_expectation("!=0")) == "!= 0"


@pytest.mark.parametrize("bad", ["0.99", ">= fast", "=> 1", ">= inf", ">= nan", 3, None])
def test_bad_expectations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_expectation(bad)
