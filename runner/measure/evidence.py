"""What a measurement was computed from, kept with its results so a run can be re-measured.

`Measurements` is the RTO and RPO results plus the inputs: the instants (fault start,
failover done, window end), the step, and every range-query answer fetched (`Fetched`).
Its JSON form goes into the run record as it is; `from_json` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.measure import samples
from runner.measure.results import RpoResult, RtoResult
from runner.prom import Series


def _iso(at: datetime | None) -> str | None:
    return None if at is None else samples.iso(at.timestamp())


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """One range-query answer: the expression, its range and the series returned."""

    role: str
    """What the expression measures, e.g. `rto.sli`, `rpo.lag`, `rpo.canary.present`."""
    query: str
    start: datetime
    end: datetime
    series: tuple[Series, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "result": [s.to_json() for s in self.series],
        }

    @classmethod
    def from_json(cls, role: str, data: dict[str, Any]) -> Fetched:
        start, end = _at(data["start"]), _at(data["end"])
        assert start is not None and end is not None
        series = tuple(Series.from_json(s) for s in data["result"])
        return cls(role=role, query=data["query"], start=start, end=end, series=series)


@dataclass(frozen=True, kw_only=True)
class Measurements:
    rto: RtoResult | None
    rpo: RpoResult | None
    fault_start: datetime
    failover_done: datetime | None
    window_end: datetime
    step_seconds: float
    scrape_interval_seconds: float | None
    fetched: tuple[Fetched, ...]

    def series(self, role: str) -> Fetched | None:
        return next((f for f in self.fetched if f.role == role), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "rto": self.rto.to_json() if self.rto else None,
            "rpo": self.rpo.to_json() if self.rpo else None,
            "inputs": {
                "faultStart": _iso(self.fault_start),
                "failoverDone": _iso(self.failover_done),
                "windowEnd": _iso(self.window_end),
                "stepSeconds": self.step_seconds,
                "scrapeIntervalSeconds": self.scrape_interval_seconds,
                "series": {f.role: f.to_json() for f in self.fetched},
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurements:
        inputs = data["inputs"]
        fault_start, window_end = _at(inputs["faultStart"]), _at(inputs["windowEnd"])
        assert fault_start is not None and window_end is not None
        return cls(
            rto=RtoResult.from_json(data["rto"]) if data.get("rto") else None,
            rpo=RpoResult.from_json(data["rpo"]) if data.get("rpo") else None,
            fault_start=fault_start,
            failover_done=_at(inputs["failoverDone"]),
            window_end=window_end,
            step_seconds=inputs["stepSeconds"],
            scrape_interval_seconds=inputs.get("scrapeIntervalSeconds"),
            fetched=tuple(Fetched.from_json(k, v) for k, v in inputs["series"].items()),
        )
