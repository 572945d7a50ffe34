"""Failback measurements (`runner.measure.failback`): split-brain counts on adversarial
counter histories against the world and the oracle, rejoin facts, and the failback RTO
and RPO computed by the failover code from the failback instants."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from runner.measure import collect, failback
from runner.measure.evidence import Fetched, Inputs
from runner.measure.failback import Count, RejoinMode, Span
from runner.measure.history import History
from runner.measure.results import RtoOutcome, Status
from runner.scenario import model
from tests.measure import failback_oracle as oracle


def sample_counter(
    rnd: random.Random, *, events: list[int], restarts: list[int], end: int, interval: int
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """Scrape a counter every `interval` ms (jittered; some scrapes missing): it counts the
    events since the last restart of its process; and its creation time beside it."""
    samples, created = [], []
    t = rnd.randrange(interval)
    while t <= end:
        if rnd.random() > 0.15:  # a missed scrape is a gap
            since = max([r for r in restarts if r <= t], default=-1)
            samples.append((t, float(sum(1 for e in events if since < e <= t))))
            created.append((t, float(since)))
        t += interval + rnd.randrange(-interval // 5, interval // 5 + 1)
    return samples, created


@pytest.mark.parametrize("seed", range(300))
def test_split_brain_bounds_hold_the_truth_and_match_the_oracle(seed: int) -> None:
    rnd = random.Random(seed)
    end = 120_000
    events = sorted(rnd.sample(range(1, end), k=rnd.choice([0, 1, 3, 40, 400])))
    restarts = sorted(rnd.sample(range(1, end), k=rnd.choice([0, 0, 0, 1, 2])))
    samples, created = sample_counter(
        rnd, events=events, restarts=restarts, end=end, interval=rnd.choice([1000, 5000, 15000])
    )
    s = rnd.randrange(10_000, 60_000)
    e = rnd.randrange(s + 1, 110_000)
    truth = sum(1 for x in events if s < x <= e)
    for born in (created, None):
        got = failback.counter_increase(samples, s, e, born)
        assert (got.lower, got.upper) == oracle.counter_bounds(samples, s, e, born)
        assert got.lower <= truth
        if got.upper is not None:
            assert truth <= got.upper
        if born is None:
            assert got.upper is None  # a hidden restart cannot be ruled out
        for limit in (0, 5, 100):
            verdict = got.judge(limit)
            if verdict is Status.MET:
                assert truth <= limit  # never a false pass
            if verdict is Status.MISSED:
                assert truth > limit


def h(*points: tuple[int, float]) -> History:
    return History(points=tuple(points))


BORN = History(points=tuple((t, 1.0) for t in range(0, 60_001, 1000)))
SPANS = [
    Span(name="failover", start=10_000, end=15_000),
    Span(name="verify", start=15_000, end=40_000),
    Span(name="failback", start=40_000, end=50_000),
]


def test_no_split_brain_is_met_only_with_samples_around_the_span() -> None:
    flat = h(*((t, 7.0) for t in range(0, 60_001, 1000)))
    got = failback.compute_split_brain([flat], spans=SPANS, limit=0, created=[BORN])
    assert got.status is Status.MET and got.count == Count(lower=0, upper=0)
    # without the creation time, a restart could hide writes: not proven
    got = failback.compute_split_brain([flat], spans=SPANS, limit=0)
    assert got.status is Status.INCONCLUSIVE and "splitBrain.created" in got.explanation
    late = h(*((t, 7.0) for t in range(11_000, 60_001, 1000)))  # nothing before the start
    got = failback.compute_split_brain([late], spans=SPANS, limit=0, created=[BORN])
    assert got.status is Status.INCONCLUSIVE
    assert "no counter sample at or before the start" in got.explanation
    early = h(*((t, 7.0) for t in range(0, 45_001, 1000)))  # stops before the end
    got = failback.compute_split_brain([early], spans=SPANS, limit=0, created=[BORN])
    assert got.status is Status.INCONCLUSIVE


def test_split_brain_writes_per_phase_and_the_verdict() -> None:
    # 5 writes per second acknowledged by the old primary from 12 s to 30 s
    points = [(t, float(max(0, min(t, 30_000) - 12_000) // 200)) for t in range(0, 60_001, 1000)]
    got = failback.compute_split_brain([h(*points)], spans=SPANS, limit=0, created=[BORN])
    assert got.status is Status.MISSED
    assert got.count == Count(lower=90, upper=90)
    assert dict(got.phases) == {
        "failover": Count(lower=15, upper=15),
        "verify": Count(lower=75, upper=75),
        "failback": Count(lower=0, upper=0),
    }
    assert got.to_json()["writes"] == 90
    again = failback.SplitBrainResult.from_json(json.loads(json.dumps(got.to_json())))
    assert again == got


def test_a_restarted_counter_leaves_the_upper_bound_unknown() -> None:
    points = [(0, 50.0), (20_000, 60.0), (30_000, 3.0), (60_000, 3.0)]
    born = h((0, 1.0), (20_000, 1.0), (30_000, 2.0), (60_000, 2.0))
    got = failback.compute_split_brain([h(*points)], spans=SPANS, limit=0, created=[born])
    # the 10 before 20 s may predate the span; the restarted process counted 3 in it
    assert got.count == Count(lower=3, upper=None)
    assert got.status is Status.MISSED  # at least 3 is already beyond 0
    got20 = failback.compute_split_brain([h(*points)], spans=SPANS, limit=20, created=[born])
    assert got20.status is Status.INCONCLUSIVE
    # a restart that counted past the old value is seen by its creation time alone
    hidden = [(0, 50.0), (20_000, 60.0), (30_000, 70.0), (60_000, 70.0)]
    got = failback.compute_split_brain([h(*hidden)], spans=SPANS, limit=100, created=[born])
    assert got.count == Count(lower=70, upper=None) and got.status is Status.INCONCLUSIVE
    assert "the counter restarted" in got.explanation


def test_several_series_or_none_are_not_measured() -> None:
    one = h((0, 1.0), (60_000, 1.0))
    assert failback.compute_split_brain([one, one], spans=SPANS, limit=0).count is None
    got = failback.compute_split_brain([], spans=SPANS, limit=0)
    assert got.status is Status.INCONCLUSIVE and got.count is None


# --------------------------------------------------------------------------- rejoin


def test_rejoin_facts_are_read_from_the_last_line_that_has_them() -> None:
    out = "lab step\n" + json.dumps(
        {
            "rejoin": {
                "mode": "rewound",
                "timelineBefore": 3,
                "timelineAfter": 4,
                "bytesCopied": 1024,
                "seconds": 1.5,
            }
        }
    )
    facts, problem = failback.parse_rejoin([("other", "nothing"), ("rejoin-primary", out)])
    assert problem is None and facts is not None
    assert (facts.mode, facts.timeline_before, facts.timeline_after, facts.step) == (
        RejoinMode.REWOUND,
        3,
        4,
        "rejoin-primary",
    )
    met = failback.judge_rejoin(facts, None, model.RejoinExpectation.WITHOUT_REBUILD)
    assert met.status is Status.MET


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ('{"rejoin": {"mode": "recloned", "bytesCopied": 30000000}}', Status.MISSED),
        ('{"rejoin": {"mode": "no-rewind-needed"}}', Status.MET),
        ('{"rejoin": {"mode": "teleported"}}', Status.INCONCLUSIVE),
        ('{"rejoin": {"mode": "rewound", "bytesCopied": -1}}', Status.INCONCLUSIVE),
        ('{"rejoin": "yes"}', Status.INCONCLUSIVE),
        ("no facts at all", Status.INCONCLUSIVE),
    ],
)
def test_without_rebuild_is_judged_from_facts_only(line: str, status: Status) -> None:
    facts, problem = failback.parse_rejoin([("s", line)])
    got = failback.judge_rejoin(facts, problem, model.RejoinExpectation.WITHOUT_REBUILD)
    assert got.status is status, got.explanation
    assert failback.RejoinResult.from_json(got.to_json()) == got


# --------------------------------------------------------------------------- failback RTO/RPO


def spec(**fb: object) -> model.ScenarioSpec:
    return model.ScenarioSpec.model_validate(
        {
            "clusters": [{"name": "a"}, {"name": "b"}],
            "faults": [{"name": "f", "type": "cluster-loss", "cluster": "a", "duration": "1m"}],
            "failback": {"steps": [{"name": "back", "action": "lab.route", "cluster": "a"}]},
            "measure": {
                "rto": {"sli": "up", "upWhen": ">= 1", "hold": "5s"},
                "failback": fb.get("measure", {}),
            },
            "objectives": {"rto": "30s", "failback": fb.get("objectives", {"rto": "10s"})},
        }
    )


def measure_failback(
    s: model.ScenarioSpec, points: list[tuple[int, float]], *, start: int, end: int
) -> Status:
    derived = failback.failback_spec(s)
    assert derived is not None
    inputs = Inputs(
        fault_start=start,
        window_end=end,
        failover_done=start + 2000,
        step=1000,
        fetched=(
            Fetched(
                role="rto.sli", query="up", start=0, end=end, mode="raw", histories=(h(*points),)
            ),
        ),
    )
    m = collect.compute(derived, inputs)
    assert m.rto is not None
    result = failback.as_failback_rto(m.rto)
    return result.status


def test_failback_rto_uses_the_failover_rules_from_the_failback_start() -> None:
    s = spec()
    healthy = [(t, 1.0) for t in range(0, 80_001, 1000)]
    assert measure_failback(s, healthy, start=50_000, end=80_000) is Status.MET
    # the SLI fails for 20 s during failback: missed against 10 s
    dip = [(t, 0.0 if 52_000 <= t < 72_000 else 1.0) for t in range(0, 90_001, 1000)]
    assert measure_failback(s, dip, start=50_000, end=90_000) is Status.MISSED
    # a hole across the recovery: inconclusive, never met
    hole = [(t, v) for t, v in dip if not 55_000 <= t < 75_000]
    assert measure_failback(s, hole, start=50_000, end=90_000) is Status.INCONCLUSIVE


def test_the_failback_never_failed_explanation_speaks_of_failback() -> None:
    derived = failback.failback_spec(spec())
    assert derived is not None
    points = tuple((t, 1.0) for t in range(0, 80_001, 1000))
    inputs = Inputs(
        fault_start=50_000,
        window_end=80_000,
        step=1000,
        fetched=(
            Fetched(
                role="rto.sli",
                query="up",
                start=0,
                end=80_000,
                mode="raw",
                histories=(History(points=points),),
            ),
        ),
    )
    m = collect.compute(derived, inputs)
    assert m.rto is not None and m.rto.outcome is RtoOutcome.NEVER_FAILED
    text = failback.as_failback_rto(m.rto).explanation
    assert "never failed during failback" in text and "fault did not bite" not in text


def test_the_failback_spec_takes_the_failback_sli_canary_and_objectives() -> None:
    s = spec(
        measure={
            "rto": {"sli": "min(other)", "upWhen": ">= 0.5", "hold": "3s"},
            "canary": {"acknowledged": "acked", "missing": "gone"},
        },
        objectives={"rto": "20s", "maxLostWrites": 0, "maxSplitBrainWrites": 2},
    )
    derived = failback.failback_spec(s)
    assert derived is not None
    assert derived.measure.rto is not None and derived.measure.rto.sli == "min(other)"
    assert derived.measure.rpo is not None and derived.measure.rpo.canary is not None
    assert derived.objectives.rto == timedelta(seconds=20)
    assert derived.objectives.max_lost_writes == 0
    assert failback.split_brain_limit(s) == 2
    split = spec(measure={"splitBrain": {"acknowledged": "acks_total"}})
    assert failback.split_brain_limit(split) == 0  # default 0 once it is measured
    assert failback.split_brain_limit(spec()) is None


def test_failback_rpo_counts_the_secondary_writes_missing_after_failback() -> None:
    s = spec(
        measure={
            "canary": {
                "acknowledged": "acked",
                "missing": "gone",
                "acknowledgedTime": "acked_ts",
                "presentTime": "present_ts",
            }
        },
        objectives={"maxLostWrites": 0, "rpo": "1s"},
    )
    derived = failback.failback_spec(s)
    assert derived is not None and derived.measure.rto is not None
    start, done, end = 50_000, 60_000, 80_000

    def fetched(role: str, query: str, points: list[tuple[int, float]]) -> Fetched:
        return Fetched(
            role=role, query=query, start=0, end=end, mode="raw", histories=(h(*points),)
        )

    grid = range(0, end + 1, 1000)
    inputs = Inputs(
        fault_start=start,
        window_end=end,
        failover_done=done,
        step=1000,
        fetched=(
            fetched("rto.sli", "up", [(t, 1.0) for t in grid]),
            fetched("rpo.canary.acknowledged", "acked", [(t, min(t, 58_000) / 100) for t in grid]),
            fetched(
                "rpo.canary.acknowledgedTime",
                "acked_ts",
                [(t, min(t, 58_000) / 1000) for t in grid],
            ),
            fetched("rpo.canary.missing", "gone", [(t, 12.0) for t in grid if t >= done]),
            fetched("rpo.canary.presentTime", "present_ts", [(t, 55.0) for t in grid if t >= done]),
        ),
    )
    m = collect.compute(derived, inputs)
    assert m.rpo is not None and m.rpo.canary is not None
    assert m.rpo.canary.lost_writes == 12
    assert m.rpo.canary.window_seconds == pytest.approx(3.0)
    assert m.rpo.status is Status.MISSED
