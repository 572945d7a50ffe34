"""An independent oracle for the failback definitions of docs/failback.md.

Written from the definitions, not from `runner/measure` (nothing is imported from it), and
by a different route: the continuity oracle walks the reports in the order they arrived
(it never sorts them), the counter oracle reasons per increment placement. The worlds in
`test_continuity.py` and `test_failback.py` add the physical truth (which writes really
were acknowledged and kept, when each increment really happened).

* a write is (site, seq, writer's ts); two reports with the same site and seq whose
  timestamps are within 1 ms are the same write; a write is kept when the final primary
  has a row with its site and seq and a timestamp within 1 ms;
* its phase is the named span [start, end) holding its timestamp ("outside" if none);
* a split-brain write is one acknowledged by a site inside that site's [start, end);
* a counter's increase over (s, e]: the increments between two consecutive samples
  happened somewhere in (a, b]; the fewest that can have been in (s, e] is the sum over
  the pairs whose (a, b] lies inside (s, e], the most the sum over the pairs that
  overlap it; after a drop (a restart) the increments are the new value at least and
  unknown at most; with no sample at or before s, or at or after e, the most is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

TOL = 0.001


@dataclass
class Truth:
    acknowledged: int = 0
    duplicates: int = 0
    lost: list[tuple[str, int, float, str]] = field(default_factory=list)
    split: list[tuple[str, int, float, str, bool]] = field(default_factory=list)
    per_phase: dict[str, list[int]] = field(default_factory=dict)
    """phase -> [acknowledged, lost, split brain, split brain lost]"""


def continuity(
    reports: Iterable[tuple[str, int, float]],
    rows: Iterable[tuple[str, int, float]],
    phases: Sequence[tuple[str, float, float | None]],
    split: Mapping[str, tuple[float, float | None]],
) -> Truth:
    known: list[tuple[str, int, float]] = []
    by_number: dict[tuple[str, int], list[float]] = {}
    out = Truth()
    for site, seq, ts in reports:  # arrival order, no sorting
        if any(abs(t - ts) <= TOL for t in by_number.get((site, seq), [])):
            out.duplicates += 1
            continue
        by_number.setdefault((site, seq), []).append(ts)
        known.append((site, seq, ts))
    stored: dict[tuple[str, int], list[float]] = {}
    for site, seq, ts in rows:
        stored.setdefault((site, seq), []).append(ts)
    for name, _, _ in phases:
        out.per_phase[name] = [0, 0, 0, 0]
    for site, seq, ts in known:
        phase = "outside"
        for name, start, end in phases:
            if start <= ts and (end is None or ts < end):
                phase = name
        counts = out.per_phase.setdefault(phase, [0, 0, 0, 0])
        counts[0] += 1
        kept = any(abs(t - ts) <= TOL for t in stored.get((site, seq), []))
        if not kept:
            counts[1] += 1
            out.lost.append((site, seq, ts, phase))
        window = split.get(site)
        if window is not None and window[0] <= ts and (window[1] is None or ts < window[1]):
            counts[2] += 1
            counts[3] += 0 if kept else 1
            out.split.append((site, seq, ts, phase, not kept))
    out.acknowledged = len(known)
    out.lost.sort(key=lambda w: w[2])
    out.split.sort(key=lambda w: w[2])
    return out


def counter_bounds(
    samples: Sequence[tuple[int, float]],
    s: int,
    e: int,
    created: Sequence[tuple[int, float]] | None = None,
) -> tuple[int, int | None]:
    """(fewest, most) increments of a sampled counter in (s, e] (most None: unknown)."""
    fewest = 0.0
    most: float | None = 0.0
    if created is None:
        most = None  # a restart that does not show as a drop cannot be ruled out
    if not any(t <= s for t, _ in samples) or not any(t >= e for t, _ in samples):
        most = None
    born = dict(created or [])
    for i in range(1, len(samples)):
        a, va = samples[i - 1]
        b, vb = samples[i]
        ca = max((c for c in born if c <= a), default=None)
        cb = max((c for c in born if c <= b), default=None)
        other_process = created is not None and (ca is None or cb is None or born[ca] != born[cb])
        restarted = vb < va or other_process
        happened = vb if restarted else vb - va
        inside = s <= a and b <= e
        overlaps = a < e and b > s
        if inside:
            fewest += happened
        if overlaps and most is not None:
            most = None if restarted else most + happened
    return round(fewest), None if most is None else max(round(fewest), round(most))
