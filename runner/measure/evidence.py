"""What a measurement was computed from, kept with its results so a run can be re-measured.

`Inputs` are the instants (fault requested and confirmed, failover done, window end, all
whole milliseconds), the step, and every expression read (`Fetched`: its query, range,
how it was read and the histories it gave). `Measurements` is the RTO and RPO results
plus their inputs; its JSON form goes into the run record (`measurementInputs` holds the
inputs), and `Inputs.from_json` reads it back for `collect.remeasure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.measure import timebase
from runner.measure.history import History
from runner.measure.results import RpoResult, RtoResult
from runner.measure.timebase import Ms


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """One expression as read: its role, query, range, read mode and histories."""

    role: str
    """What the expression measures, e.g. `rto.sli`, `rpo.lag`, `rpo.canary.present`."""
    query: str
    start: Ms
    end: Ms
    mode: str
    """`raw` (a plain selector's stored samples) or `grid` (a compound expression)."""
    histories: tuple[History, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "start": timebase.iso(self.start),
            "end": timebase.iso(self.end),
            "mode": self.mode,
            "result": [h.to_json() for h in self.histories],
        }

    @classmethod
    def from_json(cls, role: str, data: dict[str, Any]) -> Fetched:
        if data.get("mode") not in ("raw", "grid"):
            raise ValueError(
                "these inputs were stored by measurement v1 (grid values without their sample"
                " times) and cannot be re-measured with the current rules"
            )
        return cls(
            role=role,
            query=data["query"],
            start=timebase.parse_iso(data["start"]),
            end=timebase.parse_iso(data["end"]),
            mode=data["mode"],
            histories=tuple(History.from_json(h) for h in data["result"]),
        )


@dataclass(frozen=True, kw_only=True)
class Inputs:
    fault_start: Ms
    window_end: Ms
    failover_done: Ms | None = None
    fault_requested: Ms | None = None
    step: Ms
    fetched: tuple[Fetched, ...] = ()

    def get(self, role: str) -> Fetched | None:
        return next((f for f in self.fetched if f.role == role), None)

    def histories(self, role: str) -> list[History]:
        found = self.get(role)
        return [] if found is None else list(found.histories)

    def to_json(self) -> dict[str, Any]:
        return {
            "faultStart": timebase.iso(self.fault_start),
            "faultRequested": timebase.iso(self.fault_requested),
            "failoverDone": timebase.iso(self.failover_done),
            "windowEnd": timebase.iso(self.window_end),
            "stepSeconds": self.step / 1000,
            "series": {f.role: f.to_json() for f in self.fetched},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Inputs:
        def at(key: str) -> Ms | None:
            text = data.get(key)
            return None if text is None else timebase.parse_iso(text)

        fault_start, window_end = at("faultStart"), at("windowEnd")
        if fault_start is None or window_end is None:
            raise ValueError("stored measurement inputs have no faultStart or windowEnd")
        return cls(
            fault_start=fault_start,
            window_end=window_end,
            failover_done=at("failoverDone"),
            fault_requested=at("faultRequested"),
            step=round(float(data["stepSeconds"]) * 1000),
            fetched=tuple(Fetched.from_json(k, v) for k, v in (data.get("series") or {}).items()),
        )


@dataclass(frozen=True, kw_only=True)
class Measurements:
    rto: RtoResult | None
    rpo: RpoResult | None
    inputs: Inputs

    def to_json(self) -> dict[str, Any]:
        return {
            "rto": self.rto.to_json() if self.rto else None,
            "rpo": self.rpo.to_json() if self.rpo else None,
            "inputs": self.inputs.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurements:
        return cls(
            rto=RtoResult.from_json(data["rto"]) if data.get("rto") else None,
            rpo=RpoResult.from_json(data["rpo"]) if data.get("rpo") else None,
            inputs=Inputs.from_json(data["inputs"]),
        )
