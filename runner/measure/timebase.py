"""The one time resolution of every measurement: whole milliseconds since the epoch.

Prometheus stores sample timestamps in milliseconds, so a measurement reasons in integer
milliseconds (`Ms`) end to end: fault start, failover done and window end are floored to
the millisecond once (`ms`), sample times are read as integers (`from_seconds`), window
filters compare integers, and the record stores the same integers' ISO text. A stored
run therefore re-measures to exactly what the live run measured.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

Ms = int
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE = timedelta(milliseconds=1)


def ms(at: datetime) -> Ms:
    """Milliseconds since the epoch of an aware datetime, floored (exact integer arithmetic)."""
    if at.tzinfo is None:
        raise ValueError("measurement times must be timezone-aware")
    return (at - _EPOCH) // _ONE


def at(value: Ms) -> datetime:
    """The aware UTC datetime of a millisecond timestamp."""
    return _EPOCH + value * _ONE


def canonical(when: datetime) -> datetime:
    """`when` at the measurement's resolution (floored to the millisecond, UTC)."""
    return at(ms(when))


def from_seconds(value: float) -> Ms:
    """A Prometheus timestamp (float seconds with at most 3 decimals) as milliseconds."""
    return round(value * 1000)


def seconds(value: Ms) -> float:
    """Milliseconds as float seconds (for display and JSON)."""
    return value / 1000


def iso(value: Ms | None) -> str | None:
    """ISO 8601 UTC text with milliseconds and `Z`, or None."""
    if value is None:
        return None
    return at(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> Ms:
    """Milliseconds of an ISO 8601 time with an offset (as `iso` writes it)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ms(parsed)


def clock(value: Ms) -> str:
    """A short UTC time of day for one-line explanations (milliseconds shown if any)."""
    moment = at(value)
    text = moment.strftime("%H:%M:%S")
    if value % 1000:
        text += f".{value % 1000:03d}"
    return text + "Z"
