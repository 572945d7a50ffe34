"""Round-trip data continuity: which acknowledged writes the final primary still has.

Pure arithmetic over a ledger of acknowledged writes (the writer's record) and the writes
present on the final primary. Definitions (docs/failback.md):

* a write is identified by (site that acknowledged it, sequence, writer's timestamp):
  a promoted standby, or a writer restarted from scratch, may hand out a sequence number
  an earlier write already had, so the sequence alone names nothing; the same write
  reported twice (a retried report, a duplicated log line) is one write;
* a write acknowledged at any moment of the drill is **present** when the final primary
  holds a row with its site and sequence whose writer's timestamp matches (within
  `TOLERANCE`), else **lost**; gaps in the sequence (failed inserts) are not writes;
* each write belongs to the **phase** whose [start, end) holds its writer's timestamp
  (arrival order does not matter: reordered reports land where they belong);
* a **split-brain write** was acknowledged by a site inside the span in which that site
  should not have accepted writes (`split_brain`: [start, end) per site, e.g. from the
  start of failover until the site was rejoined as a standby). It is counted whether or
  not it survived.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TOLERANCE = 0.001
"""Seconds: a stored writer's timestamp matches an acknowledged one within this."""
OUTSIDE = "outside"
"""The phase of a write acknowledged outside every phase given."""


@dataclass(frozen=True, kw_only=True, order=True)
class Write:
    """One acknowledged (or stored) write: where, which number, and the writer's time."""

    ts: float
    """The writer's timestamp (unix seconds), as stored in the row."""
    site: str
    seq: int


@dataclass(frozen=True, kw_only=True)
class Phase:
    name: str
    start: float
    end: float | None
    """None: open-ended (the last phase)."""

    def holds(self, ts: float) -> bool:
        return self.start <= ts and (self.end is None or ts < self.end)


@dataclass(frozen=True, kw_only=True)
class PhaseCount:
    phase: str
    acknowledged: int = 0
    lost: int = 0
    split_brain: int = 0
    split_brain_lost: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "splitBrain": self.split_brain,
            "splitBrainLost": self.split_brain_lost,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PhaseCount:
        return cls(
            phase=str(data["phase"]),
            acknowledged=int(data["acknowledged"]),
            lost=int(data["lost"]),
            split_brain=int(data["splitBrain"]),
            split_brain_lost=int(data["splitBrainLost"]),
        )


@dataclass(frozen=True, kw_only=True)
class Continuity:
    acknowledged: int
    """Distinct acknowledged writes."""
    duplicates: int
    """Reports of a write already counted."""
    lost: tuple[tuple[Write, str], ...]
    """Lost writes with their phase, in writer's time order."""
    split_brain: tuple[tuple[Write, str, bool], ...]
    """Split-brain writes with their phase and whether they were lost."""
    phases: tuple[PhaseCount, ...] = field(default=())
    kept_before_loss: float | None = None
    """Writer's time of the last write kept before the first lost one."""

    @property
    def lost_count(self) -> int:
        return len(self.lost)

    @property
    def split_brain_count(self) -> int:
        return len(self.split_brain)

    def lost_window(self) -> float:
        """Writer's time from the last write that survived before the first lost one to the
        last lost one (0 when nothing was lost; from the first lost one when none survived
        before it)."""
        if not self.lost:
            return 0.0
        first, last = self.lost[0][0].ts, self.lost[-1][0].ts
        return last - (self.kept_before_loss if self.kept_before_loss is not None else first)

    def to_json(self, *, listed: int = 50) -> dict[str, Any]:
        return {
            "acknowledgedWrites": self.acknowledged,
            "duplicateReports": self.duplicates,
            "lostWrites": self.lost_count,
            "lostWindowSeconds": round(self.lost_window(), 3),
            "splitBrainWrites": self.split_brain_count,
            "splitBrainLost": sum(1 for _, _, gone in self.split_brain if gone),
            "phases": [p.to_json() for p in self.phases],
            "lost": [_write_json(w, p) for w, p in self.lost[:listed]],
            "splitBrain": [
                {**_write_json(w, p), "lost": gone} for w, p, gone in self.split_brain[:listed]
            ],
        }


def _write_json(w: Write, phase: str) -> dict[str, Any]:
    return {"site": w.site, "seq": w.seq, "ts": round(w.ts, 6), "phase": phase}


DRILL_PHASES = (
    ("before-fault", None),
    ("fault", "faultStart"),
    ("failover", "failoverStarted"),
    ("served-by-secondary", "failoverDone"),
    ("failback", "failbackStarted"),
    ("after-failback", "failbackDone"),
)
"""The phases a write can be acknowledged in, and the timeline instant each starts at."""


def drill_phases(instants: Mapping[str, float], *, since: float) -> list[Phase]:
    """The drill's phases from its timeline (unix seconds; missing instants are skipped,
    e.g. no failback: the last phase runs on)."""
    marks = [("before-fault", since)] + [
        (name, instants[key]) for name, key in DRILL_PHASES[1:] if key in instants
    ]
    marks.sort(key=lambda m: m[1])
    return [
        Phase(name=name, start=start, end=marks[i + 1][1] if i + 1 < len(marks) else None)
        for i, (name, start) in enumerate(marks)
    ]


def phase_of(ts: float, phases: Sequence[Phase]) -> str:
    return next((p.name for p in phases if p.holds(ts)), OUTSIDE)


def distinct(acks: Iterable[Write]) -> tuple[list[Write], int]:
    """The distinct writes in writer's time order, and how many reports were repeats."""
    seen: dict[tuple[str, int], list[float]] = defaultdict(list)
    kept: list[Write] = []
    repeats = 0
    for w in sorted(acks):
        times = seen[(w.site, w.seq)]
        if any(abs(t - w.ts) <= TOLERANCE for t in times):
            repeats += 1
            continue
        times.append(w.ts)
        kept.append(w)
    return kept, repeats


def account(
    acks: Iterable[Write],
    present: Iterable[Write],
    *,
    phases: Sequence[Phase],
    split_brain: Mapping[str, tuple[float, float | None]] | None = None,
) -> Continuity:
    """Every acknowledged write checked against the final primary (see the module doc)."""
    writes, repeats = distinct(acks)
    stored: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in present:
        stored[(row.site, row.seq)].append(row.ts)
    fences = dict(split_brain or {})
    counts: dict[str, dict[str, int]] = {
        p.name: {"acknowledged": 0, "lost": 0, "split_brain": 0, "split_brain_lost": 0}
        for p in phases
    }
    lost: list[tuple[Write, str]] = []
    split: list[tuple[Write, str, bool]] = []
    last_kept: float | None = None
    last_kept_before_first_lost: float | None = None
    for w in writes:
        phase = phase_of(w.ts, phases)
        c = counts.setdefault(
            phase, {"acknowledged": 0, "lost": 0, "split_brain": 0, "split_brain_lost": 0}
        )
        c["acknowledged"] += 1
        kept = any(abs(t - w.ts) <= TOLERANCE for t in stored.get((w.site, w.seq), ()))
        if kept:
            last_kept = w.ts
        else:
            if not lost:
                last_kept_before_first_lost = last_kept
            lost.append((w, phase))
            c["lost"] += 1
        span = fences.get(w.site)
        if span is not None and span[0] <= w.ts and (span[1] is None or w.ts < span[1]):
            split.append((w, phase, not kept))
            c["split_brain"] += 1
            c["split_brain_lost"] += 0 if kept else 1
    return Continuity(
        acknowledged=len(writes),
        duplicates=repeats,
        lost=tuple(lost),
        split_brain=tuple(split),
        phases=tuple(
            PhaseCount(
                phase=name,
                acknowledged=c["acknowledged"],
                lost=c["lost"],
                split_brain=c["split_brain"],
                split_brain_lost=c["split_brain_lost"],
            )
            for name, c in counts.items()
        ),
        kept_before_loss=last_kept_before_first_lost,
    )
