"""Steady-state checks and guardrails, evaluated over fetched series.

A steady-state check passes only if there is evidence: every sample of every series in
its window meets `expect`, and the data covers the window without gaps. A guardrail is
breached when `abortWhen` holds continuously for `for` on any of its series; the result
names the breaching value, when it was reached and since when it held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.measure import samples
from runner.prom import Series
from runner.scenario import model


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    name: str
    query: str
    expect: str
    passed: bool
    reason: str
    window_seconds: float
    samples: int = 0
    violations: int = 0
    first_violation_value: float | None = None
    first_violation_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        at = self.first_violation_at
        return {
            "name": self.name,
            "query": self.query,
            "expect": self.expect,
            "passed": self.passed,
            "reason": self.reason,
            "windowSeconds": self.window_seconds,
            "samples": self.samples,
            "violations": self.violations,
            "firstViolation": None
            if at is None
            else {"value": self.first_violation_value, "at": samples.iso(at.timestamp())},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CheckResult:
        first = d.get("firstViolation")
        return cls(
            name=str(d["name"]),
            query=str(d.get("query") or ""),
            expect=str(d.get("expect") or ""),
            passed=bool(d["passed"]),
            reason=str(d.get("reason") or ""),
            window_seconds=float(d.get("windowSeconds") or 0.0),
            samples=int(d.get("samples") or 0),
            violations=int(d.get("violations") or 0),
            first_violation_value=None if not first else first.get("value"),
            first_violation_at=None
            if not first or not first.get("at")
            else datetime.fromisoformat(first["at"]),
        )


def evaluate_check(
    check: model.SteadyStateCheck, series: list[Series], *, end: datetime, step_s: float
) -> CheckResult:
    """Every sample in [end - window, end] must meet `expect`; no data or gaps fail."""
    window = check.window.total_seconds()
    hi = samples.unix(end)
    lo = hi - window
    per_series = [samples.within(s.samples, lo, hi) for s in series]
    points = sorted(p for data in per_series for p in data)

    def result(passed: bool, reason: str, **kw: Any) -> CheckResult:
        return CheckResult(
            name=check.name,
            query=check.query,
            expect=check.expect.text,
            passed=passed,
            reason=reason,
            window_seconds=window,
            samples=len(points),
            **kw,
        )

    if not points:
        return result(False, "no data")
    bad = [(t, v) for t, v in points if not check.expect.holds(v)]
    if bad:
        t, v = bad[0]
        return result(
            False,
            f"{len(bad)} of {len(points)} samples did not meet '{check.expect.text}';"
            f" first {v:g} at {samples.clock_text(t)}",
            violations=len(bad),
            first_violation_value=v,
            first_violation_at=samples.instant(t),
        )
    for data in per_series:
        holes = samples.gaps(data, start=lo, end=hi, step=step_s)
        if holes:
            return result(False, f"not enough data: {holes[0].describe()}")
    return result(True, f"all {len(points)} samples met '{check.expect.text}' over {window:g}s")


@dataclass(frozen=True, kw_only=True)
class GuardrailResult:
    name: str
    query: str
    abort_when: str
    for_seconds: float
    breached: bool
    explanation: str
    value: float | None = None
    at: datetime | None = None
    """When the breach was confirmed (the condition had held for `for`)."""
    since: datetime | None = None
    """When the condition started to hold."""
    labels: Mapping[str, str] = field(default_factory=dict)
    samples: int = 0

    def to_json(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return None if at is None else samples.iso(at.timestamp())

        return {
            "name": self.name,
            "query": self.query,
            "abortWhen": self.abort_when,
            "forSeconds": self.for_seconds,
            "breached": self.breached,
            "explanation": self.explanation,
            "value": self.value,
            "at": iso(self.at),
            "since": iso(self.since),
            "labels": dict(self.labels),
            "samples": self.samples,
        }


def evaluate_guardrail(
    guardrail: model.Guardrail,
    series: list[Series],
    *,
    start: datetime,
    end: datetime,
    step_s: float,
) -> GuardrailResult:
    """The earliest moment any series had met `abortWhen` continuously for `for`."""
    hold = guardrail.for_.total_seconds()
    lo, hi = samples.unix(start), samples.unix(end)
    cond = guardrail.abort_when
    best: tuple[float, float, float, Mapping[str, str]] | None = None  # (at, value, since, labels)
    count = 0
    for s in series:
        data = samples.within(s.samples, lo, hi)
        count += len(data)
        for run in samples.runs(data, cond.holds, step=step_s):
            confirm = next(
                (
                    i
                    for i in range(run.first, run.last + 1)
                    if data[i][0] - run.start >= hold - 1e-6
                ),
                None,
            )
            if confirm is not None and (best is None or data[confirm][0] < best[0]):
                best = (data[confirm][0], data[confirm][1], run.start, s.labels)
    common: dict[str, Any] = {
        "name": guardrail.name,
        "query": guardrail.query,
        "abort_when": cond.text,
        "for_seconds": hold,
        "samples": count,
    }
    if best is None:
        why = "no data" if count == 0 else f"'{cond.text}' did not hold for {hold:g}s"
        return GuardrailResult(breached=False, explanation=why, **common)
    at, value, since, labels = best
    return GuardrailResult(
        breached=True,
        explanation=f"value {value:g} at {samples.clock_text(at)} met '{cond.text}'"
        f" continuously for {at - since:g}s (since {samples.clock_text(since)})",
        value=value,
        at=samples.instant(at),
        since=samples.instant(since),
        labels=dict(labels),
        **common,
    )
