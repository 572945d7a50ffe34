"""Round-trip continuity (`runner.measure.continuity`) against the world's truth and the
independent oracle, on adversarial ledgers: gaps, duplicates, reordering, sequences
handed out again after a promotion, restarted writers re-sending, clock ties."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from runner.measure import continuity
from runner.measure.continuity import Phase, Write
from tests.measure import failback_oracle as oracle

PHASES = [
    ("before-fault", 0.0, 10.0),
    ("fault", 10.0, 20.0),
    ("failover", 20.0, 25.0),
    ("served-by-secondary", 25.0, 50.0),
    ("failback", 50.0, 60.0),
    ("after-failback", 60.0, None),
]


@dataclass
class World:
    """A drill's writes as they really happened: who acknowledged what, what survived."""

    acked: list[tuple[str, int, float]] = field(default_factory=list)
    kept: set[tuple[str, int, float]] = field(default_factory=set)
    rows: list[tuple[str, int, float]] = field(default_factory=list)
    reports: list[tuple[str, int, float]] = field(default_factory=list)
    split: dict[str, tuple[float, float | None]] = field(default_factory=dict)


def make_world(seed: int, *, split_brain: bool, lose_at_failback: int) -> World:
    """East serves, is lost at 20 s (what it acknowledged after 18 s never reached west),
    west is promoted at 25 s (its sequence starts again after the last replicated one, so
    lost sequence numbers are handed out again), serves to 50 s, east comes back at 60 s.
    With `split_brain`, clients cut off with east keep writing there from 20 to 55 s (all
    lost when east is rewound). Every attempt may fail (a gap in the sequence); some acks
    are reported twice (a restarted writer re-sends its last acks), with a sub-millisecond
    jitter; reports arrive shuffled."""
    rnd = random.Random(seed)
    w = World()
    seq = {"east": 0, "west": 0}
    replicated_east = 0
    t = 0.0
    while t < 70.0:
        t = round(t + rnd.choice([0.1, 0.1, 0.1, 0.05, 0.0004]), 4)  # ties and near-ties
        sites = []
        if t < 20.0 or t >= 60.0:
            sites.append("east")
        if 25.0 <= t < 50.0:
            sites.append("west")
        if split_brain and 20.0 <= t < 55.0:
            sites.append("east")
        for site in sites:
            if site == "west" and seq["west"] == 0:
                seq["west"] = replicated_east  # promotion: the standby's sequence goes on
            seq[site] += 1
            if rnd.random() < 0.15:
                continue  # the insert failed: a gap, never acknowledged
            write = (site, seq[site], t)
            committed_unacked = rnd.random() < 0.03
            if site == "east" and t < 18.0:
                replicated_east = seq["east"]
            kept = (site == "east" and (t < 18.0 or t >= 60.0) and not (20.0 <= t < 55.0)) or (
                site == "west" and not (t >= 50.0 - lose_at_failback * 0.1)
            )
            if kept:
                w.rows.append(write)
            if committed_unacked:
                continue  # stored, but the ack never reached the writer: not a write of the ledger
            w.acked.append(write)
            if kept:
                w.kept.add(write)
    if split_brain:
        w.split = {"east": (20.0, 60.0)}
    w.reports = list(w.acked)
    for write in rnd.sample(w.acked, k=len(w.acked) // 10):
        site, s, ts = write
        near_edge = any(abs(ts - edge) < 0.002 for _, edge, _ in PHASES)
        jitter = 0.0 if near_edge else rnd.choice([0.0, 0.0004, -0.0004])
        w.reports.append((site, s, ts + jitter))
    rnd.shuffle(w.reports)
    # rows that are not writes of this drill: another origin's rows with reused numbers
    w.rows += [("west", s, 1000.0 + s) for s in range(1, 50)]
    return w


def run(w: World) -> continuity.Continuity:
    return continuity.account(
        (Write(site=a, seq=b, ts=c) for a, b, c in w.reports),
        (Write(site=a, seq=b, ts=c) for a, b, c in w.rows),
        phases=[Phase(name=n, start=a, end=b) for n, a, b in PHASES],
        split_brain=w.split,
    )


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize(("split_brain", "lose"), [(False, 0), (True, 0), (True, 7)])
def test_continuity_matches_the_world_and_the_oracle(
    seed: int, split_brain: bool, lose: int
) -> None:
    w = make_world(seed, split_brain=split_brain, lose_at_failback=lose)
    got = run(w)
    want = oracle.continuity(w.reports, w.rows, PHASES, w.split)
    # the world's truth
    assert got.acknowledged == len(set(w.acked))
    truly_lost = sorted(set(w.acked) - w.kept, key=lambda x: x[2])
    assert sorted((x.site, x.seq, x.ts) for x, _ in got.lost) == [
        (a, b, pytest.approx(c, abs=0.0005)) for a, b, c in sorted(truly_lost)
    ]
    # the oracle, phase by phase
    assert got.duplicates == want.duplicates
    # (which report of a duplicated write is kept may differ by < 1 ms: compare by identity)
    assert sorted((x.site, x.seq, p) for x, p in got.lost) == sorted(
        (a, b, p) for a, b, _, p in want.lost
    )
    assert sorted((x.site, x.seq, p, gone) for x, p, gone in got.split_brain) == sorted(
        (a, b, p, gone) for a, b, _, p, gone in want.split
    )
    for count in got.phases:
        assert [
            count.acknowledged,
            count.lost,
            count.split_brain,
            count.split_brain_lost,
        ] == want.per_phase[count.phase], count.phase
    if not split_brain:
        assert got.split_brain_count == 0
    else:
        assert got.split_brain_count > 0
        assert all(gone for _, _, gone in got.split_brain)  # rewound away on rejoin


def test_the_same_write_reported_twice_is_one_write() -> None:
    a = Write(site="east", seq=7, ts=100.0)
    got = continuity.account(
        [a, a, Write(site="east", seq=7, ts=100.0004)],
        [a],
        phases=[Phase(name="p", start=0, end=None)],
    )
    assert (got.acknowledged, got.duplicates, got.lost_count) == (1, 2, 0)


def test_a_reused_sequence_is_not_the_lost_write() -> None:
    lost = Write(site="east", seq=7, ts=100.0)
    reused = Write(site="east", seq=7, ts=130.0)  # a promoted server handed out 7 again
    got = continuity.account([lost, reused], [reused], phases=[Phase(name="p", start=0, end=None)])
    assert [w for w, _ in got.lost] == [lost]
    assert got.acknowledged == 2


def test_gaps_are_not_losses_and_a_committed_unacknowledged_row_is_no_write() -> None:
    acked = [Write(site="east", seq=s, ts=float(s)) for s in (1, 2, 5, 9)]
    rows = [*acked, Write(site="east", seq=3, ts=3.0)]
    got = continuity.account(acked, rows, phases=[Phase(name="p", start=0, end=None)])
    assert (got.acknowledged, got.lost_count) == (4, 0)


def test_reordered_reports_land_in_their_own_phase() -> None:
    phases = [Phase(name="a", start=0, end=10), Phase(name="b", start=10, end=None)]
    late = Write(site="west", seq=1, ts=9.999)
    early = Write(site="west", seq=2, ts=10.0)
    got = continuity.account([early, late], [], phases=phases)
    assert [(w.seq, p) for w, p in got.lost] == [(1, "a"), (2, "b")]


def test_a_write_outside_every_phase_is_still_checked() -> None:
    w = Write(site="east", seq=1, ts=-5.0)
    got = continuity.account([w], [], phases=[Phase(name="p", start=0, end=None)])
    assert got.lost == ((w, continuity.OUTSIDE),)


def test_lost_window_is_from_the_last_kept_write_before_the_first_lost() -> None:
    kept = Write(site="east", seq=1, ts=10.0)
    lost1 = Write(site="east", seq=2, ts=11.5)
    lost2 = Write(site="east", seq=3, ts=12.0)
    after = Write(site="west", seq=4, ts=20.0)
    got = continuity.account(
        [after, lost2, kept, lost1], [kept, after], phases=[Phase(name="p", start=0, end=None)]
    )
    assert got.lost_window() == pytest.approx(2.0)
    assert continuity.account([lost1], [], phases=[]).lost_window() == 0.0


def test_drill_phases_from_the_timeline() -> None:
    phases = continuity.drill_phases(
        {
            "faultStart": 10.0,
            "failoverStarted": 20.0,
            "failoverDone": 25.0,
            "failbackStarted": 50.0,
        },
        since=0.0,
    )
    assert [(p.name, p.start, p.end) for p in phases] == [
        ("before-fault", 0.0, 10.0),
        ("fault", 10.0, 20.0),
        ("failover", 20.0, 25.0),
        ("served-by-secondary", 25.0, 50.0),
        ("failback", 50.0, None),
    ]
