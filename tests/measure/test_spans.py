"""Instants for span measurements: the run's own moments are datetimes known to the
millisecond; captured values are text known to the resolution their digits show. The
expected intervals are worked out here from those definitions (microseconds since the
epoch), not taken from the code under test."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from runner.measure import spans
from runner.measure.results import Status

FAULT = datetime(2025, 1, 31, 9, 10, 0, 123456, tzinfo=UTC)
FAULT_US = (9 * 3600 + 10 * 60) * 1_000_000 + 123456 + 1738281600 * 1_000_000
"""FAULT in microseconds since the epoch (2025-01-31T00:00:00Z is 1738281600 s)."""


def test_a_run_moment_is_a_datetime_known_to_the_millisecond() -> None:
    known = spans.instant("faultStart", {"faultStart": FAULT})
    assert isinstance(known, spans.Known)
    assert (known.earliest, known.latest) == (FAULT_US, FAULT_US + 1000)
    assert known.text == "faultStart = 2025-01-31T09:10:00.123456+00:00"


def test_a_moment_in_another_zone_is_the_same_instant() -> None:
    east = FAULT.astimezone(timezone(timedelta(hours=2)))
    known = spans.instant("faultStart", {"faultStart": east})
    assert isinstance(known, spans.Known)
    assert (known.earliest, known.latest) == (FAULT_US, FAULT_US + 1000)
    assert known.text == "faultStart = 2025-01-31T11:10:00.123456+02:00"


def test_a_captured_time_has_the_resolution_its_text_shows() -> None:
    whole = spans.instant("captured.done", {"captured.done": "2025-01-31T09:00:05Z"})
    tenth = spans.instant("captured.done", {"captured.done": "2025-01-31T10:00:05.5+01:00"})
    second = (9 * 3600 + 5) * 1_000_000 + 1738281600 * 1_000_000
    assert isinstance(whole, spans.Known) and isinstance(tenth, spans.Known)
    assert (whole.earliest, whole.latest) == (second, second + 1_000_000)
    assert (tenth.earliest, tenth.latest) == (second + 500_000, second + 600_000)


def test_a_captured_value_that_is_not_a_time_is_named_with_its_value() -> None:
    why = spans.instant("captured.restoreStarted", {"captured.restoreStarted": "soon"})
    assert why == "captured.restoreStarted = 'soon' is not an RFC 3339 time"
    result = spans.measure("RTO", why, spans.instant("faultStart", {"faultStart": FAULT}))
    assert result.status is Status.INCONCLUSIVE and result.bounds is None
    assert "captured.restoreStarted = 'soon' is not an RFC 3339 time" in result.explanation


def test_an_instant_the_run_did_not_record_says_so() -> None:
    assert spans.instant("failoverDone", {}) == "failoverDone was not recorded"


def test_a_span_from_a_run_moment_to_a_captured_time_has_both_resolutions() -> None:
    times: dict[str, datetime | str] = {
        "faultStart": FAULT,
        "captured.done": "2025-01-31T09:20:00Z",
    }
    start, end = spans.instant("faultStart", times), spans.instant("captured.done", times)
    result = spans.measure("RTO", start, end)
    done = (9 * 3600 + 20 * 60) * 1_000_000 + 1738281600 * 1_000_000
    assert result.bounds is not None
    # [end.earliest - start.latest, end.latest - start.earliest]
    assert result.bounds.lower == pytest.approx((done - (FAULT_US + 1000)) / 1e6)
    assert result.bounds.upper == pytest.approx((done + 1_000_000 - FAULT_US) / 1e6)


def test_a_moment_without_a_zone_is_refused_naming_it() -> None:
    with pytest.raises(
        ValueError, match=re.escape("faultStart = 2025-01-31T09:10:00.123456 has no time zone")
    ):
        spans.instant("faultStart", {"faultStart": FAULT.replace(tzinfo=None)})
