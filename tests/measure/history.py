"""Deterministic drill history for the measurement tests, backfilled into a real Prometheus.

Every case is a set of series at 5 s resolution around one fault start `F`, told apart by
the `case` label. Values: 1 = up, 0 = down (SLI); seconds (lag); sequences (canary).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.infra.prometheus import OpenMetrics

RES = 5
"""Seconds between backfilled samples (and the step the tests query at)."""
F = 1748736000 + 1800
"""Fault start: 2025-06-01T00:30:00Z."""
START, END = F - 1200, F + 900
FAULT_START = datetime.fromtimestamp(F, tz=UTC)
WINDOW_END = FAULT_START + timedelta(seconds=600)


def at(offset: float) -> datetime:
    return FAULT_START + timedelta(seconds=offset)


def _points(
    value: Callable[[int], float | None], lo: int = START, hi: int = END
) -> list[tuple[float, float]]:
    """Samples every RES seconds in [lo, hi]; `value(offset from F)` None means no sample."""
    out = []
    for t in range(lo, hi + 1, RES):
        v = value(t - F)
        if v is not None:
            out.append((float(t), v))
    return out


def _down(*spans: tuple[int, int]) -> Callable[[int], float]:
    """1, except 0 in each [a, b) span of offsets."""
    return lambda o: 0.0 if any(a <= o < b for a, b in spans) else 1.0


def history() -> OpenMetrics:
    om = OpenMetrics()
    sli = "drill_sli"
    # clean outage: down from F+5 until F+65 (last down sample F+60)
    om.add(sli, _points(_down((5, 65))), labels={"case": "clean"})
    # flapping: a 10 s blip of "up" at F+45..F+55 must not count with hold 30 s
    om.add(sli, _points(_down((5, 45), (60, 85))), labels={"case": "flapping"})
    # never recovers within the window
    om.add(sli, _points(_down((5, 10_000))), labels={"case": "never"})
    # a hole longer than the 5 min lookback delta while it was down
    om.add(
        sli,
        _points(lambda o: None if 35 <= o < 400 else (0.0 if 5 <= o < 35 else 1.0)),
        labels={"case": "gap"},
    )
    # two instances; min() makes one SLI that is down F+5..F+50
    om.add("drill_multi", _points(_down((5, 30))), labels={"case": "multi", "instance": "a"})
    om.add("drill_multi", _points(_down((10, 55))), labels={"case": "multi", "instance": "b"})
    # replication lag: a spike to 3.5 s ten seconds before the fault
    spike = {-10: 3.5, -5: 1.0}
    om.add(
        "drill_lag_seconds",
        _points(lambda o: spike.get(o, 0.2), hi=F),
        labels={"case": "spike"},
    )
    # canary: 10 writes/s acknowledged until F (seq 12000); new primary has 11980
    om.add("drill_canary_ack", _points(lambda o: 12_000 + 10 * o, hi=F), labels={"case": "loss"})
    om.add("drill_canary_ack_time", _points(lambda o: F + o, hi=F), labels={"case": "loss"})
    om.add("drill_canary_present", _points(lambda o: 11_980.0, lo=F + 30), labels={"case": "loss"})
    om.add(
        "drill_canary_present_time", _points(lambda o: F - 2.0, lo=F + 30), labels={"case": "loss"}
    )
    # error ratio: 0.2 for 10 s at F+20 (too short for for=20s), 0.3 from F+60 to F+120
    om.add(
        "drill_error_ratio",
        _points(lambda o: 0.2 if 20 <= o <= 30 else (0.3 if 60 <= o <= 120 else 0.01)),
        labels={"case": "breach"},
    )
    # steady state: always 1, or dipping to 0.5 once, 20 s before the fault
    om.add("drill_avail", _points(lambda o: 1.0), labels={"case": "steady"})
    om.add("drill_avail", _points(lambda o: 0.5 if o == -20 else 1.0), labels={"case": "dip"})
    return om
