"""Failback as a second measured recovery: its RTO and RPO, split-brain writes, the rejoin.

Pure. The failback RTO and RPO are the failover ones with other instants (the same code,
`collect` and `rto`/`rpo`, over `failback_spec`): the RTO runs from the start of failback
until the SLI holds to the end of the post-check; the RPO counts the writes the
secondary acknowledged while it served that the primary lacks after failback (the canary
contract the other way round). Definitions of the rest (docs/failback.md):

* **split-brain writes**: the increase of a counter of the writes the old primary
  acknowledged, over (failover start, the old primary rejoined]. A counter is known only at its
  samples, so the count is an interval: the increments between two samples lying wholly
  inside the span were certainly in it (lower bound), those of every pair of samples
  overlapping it may have been (upper bound). A drop is a restart of the counter: its
  value counts for the lower bound, and the upper bound is unknown (what was counted
  before the restart was never seen). A restart need not show as a drop (the new process
  may count past the old value before the next sample), so the upper bound needs the
  counter's creation time (`created`, e.g. prometheus_client's `<name>_created`): a
  change of it between two samples is a restart, and without it the upper bound is
  unknown. No sample at or before the start, or at or after
  the end, leaves the upper bound unknown. Judged like every bound: met only if the upper
  bound is within `maxSplitBrainWrites`, missed only if the lower one is beyond it.
* **rejoin facts**: how the old primary came back, read from a failback step's output
  (the last line that is a JSON object with a `rejoin` key): `mode` (`rewound`,
  `no-rewind-needed` or `recloned`), timelines before and after, bytes copied, seconds.
  `without-rebuild` is met by the first two, missed by `recloned`, inconclusive without
  facts.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from runner.measure import timebase
from runner.measure.history import History
from runner.measure.results import RtoOutcome, RtoResult, Status
from runner.measure.timebase import Ms
from runner.scenario import model


def failback_spec(spec: model.ScenarioSpec) -> model.ScenarioSpec | None:
    """The spec whose RTO and RPO, measured from the start of failback, are the failback
    RTO and RPO (None when nothing about failback is measured)."""
    fb = spec.measure.failback
    objectives = spec.objectives.failback
    if fb is None and objectives is None:
        return None
    rto = (fb.rto if fb is not None else None) or spec.measure.rto
    canary = None if fb is None else fb.canary
    if rto is None and canary is None:
        return None
    o = objectives or model.FailbackObjectives()
    return spec.model_copy(
        update={
            "measure": model.Measure(
                from_fault=spec.measure.from_fault,
                rto=rto,
                rpo=None if canary is None else model.RpoMeasure(canary=canary),
            ),
            "objectives": model.Objectives(rto=o.rto, rpo=o.rpo, max_lost_writes=o.max_lost_writes),
        }
    )


def split_brain_limit(spec: model.ScenarioSpec) -> int | None:
    """`maxSplitBrainWrites`, 0 when split brain is measured and no limit is given."""
    fb = spec.measure.failback
    o = spec.objectives.failback
    given = None if o is None else o.max_split_brain_writes
    if given is not None:
        return given
    return 0 if fb is not None and fb.split_brain is not None else None


# --------------------------------------------------------------------------- split brain


@dataclass(frozen=True, kw_only=True)
class Span:
    """A named stretch of the drill, (start, end] in milliseconds."""

    name: str
    start: Ms
    end: Ms


@dataclass(frozen=True, kw_only=True)
class Count:
    """A count the data proves to lie in [lower, upper] (upper None: unknown)."""

    lower: int
    upper: int | None

    def text(self) -> str:
        if self.upper is None:
            return f"at least {self.lower}"
        return str(self.lower) if self.lower == self.upper else f"{self.lower}–{self.upper}"

    def judge(self, limit: int) -> Status:
        if self.upper is not None and self.upper <= limit:
            return Status.MET
        if self.lower > limit:
            return Status.MISSED
        return Status.INCONCLUSIVE

    def to_json(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Count:
        upper = data.get("upper")
        return cls(lower=int(data["lower"]), upper=None if upper is None else int(upper))


def counter_increase(
    points: Sequence[tuple[Ms, float]],
    start: Ms,
    end: Ms,
    created: Sequence[tuple[Ms, float]] | None = None,
) -> Count:
    """Bounds on how much a counter grew in (start, end] (see the module doc). Without
    `created` (the counter's creation time, sampled) a restart that did not bring the
    counter below its previous value cannot be seen, so the upper bound is unknown."""
    lower, upper = 0.0, 0.0
    unknown = (
        created is None
        or not any(t <= start for t, _ in points)
        or not any(t >= end for t, _ in points)
    )

    def born(t: Ms) -> float | None:
        if created is None:
            return None
        before = [v for c, v in created if c <= t]
        return before[-1] if before else None

    for (a, va), (b, vb) in itertools.pairwise(points):
        changed = created is not None and (born(a) is None or born(a) != born(b))
        reset = vb < va or changed
        grew = vb if reset else vb - va
        if a >= start and b <= end:
            lower += grew
        if b > start and a < end:
            if reset:
                unknown = True
            upper += grew
    low = round(lower)
    return Count(lower=low, upper=None if unknown else max(low, round(upper)))


@dataclass(frozen=True, kw_only=True)
class SplitBrainResult:
    status: Status
    explanation: str
    count: Count | None
    """Split-brain writes over the whole span (None: no usable data)."""
    phases: tuple[tuple[str, Count], ...] = ()
    start: Ms | None = None
    end: Ms | None = None
    limit: int | None = None
    samples: int = 0
    ignored_samples: int = 0
    method: str = "counter"

    def to_json(self) -> dict[str, Any]:
        c = self.count
        return {
            "writes": None if c is None else c.lower if c.upper == c.lower else None,
            "lowerWrites": None if c is None else c.lower,
            "upperWrites": None if c is None else c.upper,
            "objectiveWrites": self.limit,
            "met": {Status.MET: True, Status.MISSED: False}.get(self.status),
            "status": self.status.value,
            "method": self.method,
            "explanation": self.explanation,
            "details": {
                "start": timebase.iso(self.start),
                "end": timebase.iso(self.end),
                "samples": self.samples,
                "ignoredSamples": self.ignored_samples,
                "phases": [{"phase": name, **n.to_json()} for name, n in self.phases],
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SplitBrainResult:
        d = data.get("details") or {}
        lower = data.get("lowerWrites")
        upper = data.get("upperWrites")
        return cls(
            status=Status(data["status"]),
            explanation=data["explanation"],
            count=None
            if lower is None
            else Count(lower=int(lower), upper=None if upper is None else int(upper)),
            phases=tuple((p["phase"], Count.from_json(p)) for p in d.get("phases") or []),
            start=None if d.get("start") is None else timebase.parse_iso(d["start"]),
            end=None if d.get("end") is None else timebase.parse_iso(d["end"]),
            limit=data.get("objectiveWrites"),
            samples=int(d.get("samples") or 0),
            ignored_samples=int(d.get("ignoredSamples") or 0),
        )


def compute_split_brain(
    series: Sequence[History],
    *,
    spans: Sequence[Span],
    limit: int | None,
    created: Sequence[History] | None = None,
) -> SplitBrainResult:
    """Split-brain writes over consecutive `spans` (failover start .. the old primary
    rejoined)."""
    if not spans:
        return SplitBrainResult(
            status=Status.INCONCLUSIVE,
            explanation="no failover and failback instants to count split-brain writes between",
            count=None,
            limit=limit,
        )
    start, end = spans[0].start, spans[-1].end
    base = SplitBrainResult(
        status=Status.INCONCLUSIVE,
        explanation="",
        count=None,
        start=start,
        end=end,
        limit=limit,
        ignored_samples=sum(h.ignored for h in series),
    )

    def problem(why: str) -> SplitBrainResult:
        from dataclasses import replace

        return replace(base, explanation=f"split-brain writes not measured: {why}")

    wrong = _wrong_series(series, created)
    if wrong is not None:
        return problem(wrong)
    points = list(series[0].points)
    born = None if created is None else list(created[0].points)
    total = counter_increase(points, start, end, born)
    phases = tuple((s.name, counter_increase(points, s.start, s.end, born)) for s in spans)
    samples = sum(1 for t, _ in points if start <= t <= end)
    where = f"from {timebase.clock(start)} to {timebase.clock(end)} (the old primary rejoined)"
    text = f"{total.text()} writes acknowledged by the old primary {where}"
    if total.upper is None:
        text += f" ({_unbounded_because(points, start, end, born)})"
    status = Status.NO_OBJECTIVE if limit is None else total.judge(limit)
    if limit is not None:
        verdict = {
            Status.MET: "met",
            Status.MISSED: "missed",
            Status.INCONCLUSIVE: "not proven",
        }[status]
        text += f"; at most {limit} {verdict}"
    from dataclasses import replace

    return replace(
        base, status=status, explanation=text, count=total, phases=phases, samples=samples
    )


def _wrong_series(series: Sequence[History], created: Sequence[History] | None) -> str | None:
    """Why the counter (or its creation time) cannot be read as one series; None: it can."""
    if not series:
        return "the split-brain counter query returned no data"
    if len(series) > 1:
        return f"the split-brain counter query returned {len(series)} series; aggregate it to one"
    if created is not None and len(created) != 1:
        return (
            f"the split-brain counter's creation time query returned {len(created)} series;"
            " it needs exactly one"
        )
    return None


def _unbounded_because(
    points: Sequence[tuple[Ms, float]], start: Ms, end: Ms, born: Sequence[tuple[Ms, float]] | None
) -> str:
    """Why the split-brain count has no upper bound."""
    gaps = []
    if not any(t <= start for t, _ in points):
        gaps.append("no counter sample at or before the start")
    if not any(t >= end for t, _ in points):
        gaps.append("no counter sample at or after the end")
    if born is None:
        gaps.append(
            "without the counter's creation time a restart cannot be ruled out:"
            " set splitBrain.created"
        )
    elif (
        any(b < a for (_, a), (_, b) in itertools.pairwise(points)) or len({v for _, v in born}) > 1
    ):
        gaps.append("the counter restarted")
    return "; ".join(gaps or ["upper bound unknown"])


# --------------------------------------------------------------------------- rejoin


class RejoinMode(StrEnum):
    REWOUND = "rewound"
    NO_REWIND_NEEDED = "no-rewind-needed"
    RECLONED = "recloned"


@dataclass(frozen=True, kw_only=True)
class RejoinFacts:
    mode: RejoinMode
    site: str | None = None
    timeline_before: int | None = None
    timeline_after: int | None = None
    bytes_copied: int | None = None
    seconds: float | None = None
    step: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "site": self.site,
            "timelineBefore": self.timeline_before,
            "timelineAfter": self.timeline_after,
            "bytesCopied": self.bytes_copied,
            "seconds": self.seconds,
            "step": self.step,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, step: str | None = None) -> RejoinFacts:
        def opt_int(key: str) -> int | None:
            v = data.get(key)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or v < 0:
                raise ValueError(f"{key} must be a whole number, not {v!r}")
            return int(v)

        seconds = data.get("seconds")
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0
        ):
            raise ValueError(f"seconds must be a number, not {seconds!r}")
        site = data.get("site")
        return cls(
            mode=RejoinMode(data["mode"]),
            site=None if site is None else str(site),
            timeline_before=opt_int("timelineBefore"),
            timeline_after=opt_int("timelineAfter"),
            bytes_copied=opt_int("bytesCopied"),
            seconds=None if seconds is None else float(seconds),
            step=step if step is not None else data.get("step"),
        )


def rejoin_line(facts: RejoinFacts) -> str:
    """The line a step prints so the engine can read its rejoin facts."""
    data = facts.to_json()
    data.pop("step")
    return json.dumps({"rejoin": data}, sort_keys=True)


def parse_rejoin(outputs: Sequence[tuple[str, str]]) -> tuple[RejoinFacts | None, str | None]:
    """The last rejoin facts among (step name, output) pairs, and a problem if a line that
    claims to be rejoin facts cannot be read."""
    found: RejoinFacts | None = None
    problem: str | None = None
    for step, output in outputs:
        for line in output.splitlines():
            text = line.strip()
            if not (text.startswith("{") and '"rejoin"' in text):
                continue
            try:
                data = json.loads(text)
                if not isinstance(data, dict) or not isinstance(data.get("rejoin"), dict):
                    continue
                found = RejoinFacts.from_json(data["rejoin"], step=step)
            except (ValueError, KeyError, TypeError) as e:
                problem = f"step {step!r} printed rejoin facts that cannot be read: {e}"
    return found, problem


@dataclass(frozen=True, kw_only=True)
class RejoinResult:
    status: Status
    explanation: str
    facts: RejoinFacts | None
    expect: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "met": {Status.MET: True, Status.MISSED: False}.get(self.status),
            "expect": self.expect,
            "explanation": self.explanation,
            "details": None if self.facts is None else self.facts.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RejoinResult:
        d = data.get("details")
        return cls(
            status=Status(data["status"]),
            explanation=data["explanation"],
            facts=None if not d else RejoinFacts.from_json(d),
            expect=data.get("expect"),
        )


def judge_rejoin(
    facts: RejoinFacts | None, problem: str | None, expect: model.RejoinExpectation | None
) -> RejoinResult:
    """The rejoin against `failback.expect.rejoin`."""
    want = None if expect is None else expect.value
    if facts is None:
        why = problem or "no failback step reported how the old primary rejoined"
        status = (
            Status.NO_OBJECTIVE
            if expect in (None, model.RejoinExpectation.ANY)
            else Status.INCONCLUSIVE
        )
        return RejoinResult(status=status, explanation=why, facts=None, expect=want)
    parts = [f"the old primary {_mode_text(facts.mode)}"]
    if facts.timeline_before is not None or facts.timeline_after is not None:
        parts.append(f"timeline {facts.timeline_before} → {facts.timeline_after}")
    if facts.bytes_copied is not None:
        parts.append(f"{facts.bytes_copied} bytes copied")
    if facts.seconds is not None:
        parts.append(f"in {facts.seconds:.3g}s")
    text = ", ".join(parts)
    if expect is None or expect is model.RejoinExpectation.ANY:
        return RejoinResult(status=Status.NO_OBJECTIVE, explanation=text, facts=facts, expect=want)
    if facts.mode is RejoinMode.RECLONED:
        return RejoinResult(
            status=Status.MISSED,
            explanation=f"{text}: a rebuild was needed (expected {want})",
            facts=facts,
            expect=want,
        )
    return RejoinResult(
        status=Status.MET, explanation=f"{text}: {want} met", facts=facts, expect=want
    )


def _mode_text(mode: RejoinMode) -> str:
    return {
        RejoinMode.REWOUND: "was rewound (pg_rewind) and rejoined",
        RejoinMode.NO_REWIND_NEEDED: "rejoined with nothing to rewind",
        RejoinMode.RECLONED: "was re-cloned (full copy) to rejoin",
    }[mode]


# --------------------------------------------------------------------------- engine helpers


def as_failback_rto(result: RtoResult) -> RtoResult:
    """A failback RTO result says so (the failover wording speaks of "the fault")."""
    from dataclasses import replace

    text = result.explanation
    if result.outcome is RtoOutcome.NEVER_FAILED:
        text = text.replace(
            "THE SLI NEVER FAILED after the fault", "the SLI never failed during failback"
        ).replace(": the fault did not bite, or the SLI cannot see it", "")
    text = text.replace("after the fault start", "after the failback start")
    return replace(result, explanation=text, method="sli-hold-failback")


SPLIT_BRAIN_PHASES = ("failover", "verify", "recover-faults", "failback")


class PhaseMark(Protocol):
    """A phase of the run as the journal records it (`runner.journal.entries.PhaseEntry`)."""

    @property
    def name(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...


class StepMark(Protocol):
    """A step of the run as the journal records it (`runner.journal.entries.StepEntry`)."""

    @property
    def phase(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def output(self) -> str: ...


def split_brain_spans(
    phases: Sequence[PhaseMark],
    steps: Sequence[StepMark],
    failover_started: datetime | None,
    *,
    until: datetime,
    from_step: str | None = None,
) -> list[Span]:
    """The drill's phases from the start of failover (or of the failover step `from_step`)
    until the old primary was rejoined: the end of the failback step that reported rejoin
    facts, else of the first failback step, else `until` (failback done)."""
    started = failover_started
    named = [s for s in steps if s.phase == "failover" and s.name == from_step]
    if named:
        started = named[0].started_at
    if started is None:
        return []
    start = timebase.ms(started)
    end = timebase.ms(until)
    failback_steps = [s for s in steps if s.phase == "failback" and s.finished_at is not None]
    rejoined = [s for s in failback_steps if parse_rejoin([(s.name, s.output)])[0] is not None]
    chosen = rejoined[-1:] or failback_steps[:1]
    finished = chosen[0].finished_at if chosen else None
    if finished is not None:
        end = min(end, timebase.ms(finished))
    marks: list[tuple[Ms, str]] = []
    for p in phases:
        if p.name in SPLIT_BRAIN_PHASES:
            marks.append((max(timebase.ms(p.started_at), start), str(p.name)))
    marks = sorted(m for m in marks if m[0] < end)
    if not marks or marks[0][0] > start:
        marks.insert(0, (start, "failover"))
    spans = []
    for (a, name), (b, _) in itertools.pairwise([*marks, (end, "")]):
        if b > a:
            spans.append(Span(name=name, start=a, end=b))
    return spans
