"""The series a run's measurements read, as `measurementInputs` records them, read back for
the reports: each expression's query and its series (labels, finite samples in time order).

The stored form stays as written (every measurement version's; `collect.remeasure` reads
the current one with `runner.measure.evidence.Inputs`); this is the one place that reads
it for display. A part that is not what it should be is skipped, never fatal: the series
illustrate a verdict, they never decide it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class RecordedSeries:
    labels: Mapping[str, str] = field(default_factory=dict)
    samples: tuple[tuple[float, float], ...] = ()
    """(unix seconds, value), finite, in time order."""


@dataclass(frozen=True, kw_only=True)
class RecordedRead:
    """One expression as the run read it: its query and the series it gave."""

    role: str
    query: str
    series: tuple[RecordedSeries, ...] = ()


def _number(raw: Any) -> float | None:
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def read(inputs: Mapping[str, Any] | None, role: str, *, failback: bool = False) -> RecordedRead:
    """What was read for `role` (`rto.sli`, `rpo.lag`, ...); `failback`: for the failback
    measurement. Measurement v1 named the series `series`, v2 names them `result`."""
    stored = _object(inputs)
    if failback:
        stored = _object(stored.get("failback"))
    fetched = _object(_object(stored.get("series")).get(role))
    items = fetched.get("result", fetched.get("series")) or []
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        points = []
        for sample in item.get("samples") or []:
            if not isinstance(sample, list | tuple) or len(sample) != 2:
                continue
            t, v = _number(sample[0]), _number(sample[1])
            if t is not None and v is not None:
                points.append((t, v))
        labels = {str(k): str(v) for k, v in _object(item.get("labels")).items()}
        found.append(RecordedSeries(labels=labels, samples=tuple(sorted(points))))
    return RecordedRead(role=role, query=str(fetched.get("query") or role), series=tuple(found))


def step_seconds(inputs: Mapping[str, Any] | None) -> float | None:
    """The scrape step the measurement used (None when not recorded)."""
    return _number(_object(inputs).get("stepSeconds"))
