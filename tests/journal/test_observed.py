"""The lab's ground truth in the journal: typed fields for what the backends report, written
back exactly as reported (keys, order, nulls), unknown keys kept, unreadable values kept as
written rather than refusing the record (the ground truth informs, it never judges)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runner.journal.observed import FailbackTruth, Observed
from runner.measure import continuity
from runner.measure.failback import RejoinMode

T0 = 1767225600.0

FAILOVER: dict[str, Any] = {  # the shape of runner.lab.ground_truth.observe, a DNS lab
    "writeLatency": {
        "start": T0 - 30,
        "end": T0,
        "sync": {"count": 40, "p50Seconds": 0.004123, "p95Seconds": 0.0071,
                 "p99Seconds": 0.0093, "maxSeconds": 0.011},
        "async": {"count": 41, "p50Seconds": 0.001001, "p95Seconds": 0.002,
                  "p99Seconds": 0.0031, "maxSeconds": 0.004},
        "penaltyP50Seconds": 0.003123,
        "penaltyP99Seconds": 0.0062,
    },
    "dns": {
        "convergedAt": T0 + 2.3,
        "convergedAfter": T0 + 2.1,
        "servers": {"ns1": T0 + 2.2, "ns2": T0 + 2.3},
        "answer": ["127.0.0.12"],
        "clients": {"c1": T0 + 4.0, "c2": T0 + 7.0},
        "clientsSwitchedAt": T0 + 7.0,
    },
    "moments": {"faultApplied": T0 - 0.2, "firstFailureSeen": T0 + 0.05},
    "rtoSeconds": 4.9,
    "lostWrites": None,  # the new primary's rows could not be read
    "lostWindowSeconds": None,
    "probes": 120,
    "failedProbes": 9,
    "acknowledgedWrites": 57,
}  # fmt: skip


def _failback() -> dict[str, Any]:
    """The shape the engine records: the lab's failback truth, its ledger checked."""
    writes = [continuity.Write(site="east", seq=i, ts=T0 + i) for i in range(1, 5)]
    stored = writes[:2]
    result = continuity.account(
        writes,
        stored,
        phases=continuity.drill_phases({"faultStart": T0 + 2.5}, since=T0),
        split_brain={},
    )
    return {
        "site": "east",
        "rtoSeconds": 3,
        "probes": 60,
        "failedProbes": 3,
        "rejoin": {"mode": "rewound", "site": "east", "timelineBefore": 2, "timelineAfter": 3,
                   "bytesCopied": 16384, "seconds": 1.25},
        "continuity": result.to_json(),
    }  # fmt: skip


def _same_bytes(data: dict[str, Any], observed: Observed) -> None:
    assert json.dumps(observed.to_json()) == json.dumps(data)


def test_every_value_the_lab_reports_is_typed_and_written_back_as_reported() -> None:
    data = {**FAILOVER, "failback": _failback()}
    seen = Observed.from_json(data)
    _same_bytes(data, seen)
    assert seen.rto_seconds == 4.9 and seen.lost_writes is None
    assert (seen.probes, seen.failed_probes, seen.acknowledged_writes) == (120, 9, 57)
    assert seen.moments is not None and seen.moments.first_failure_seen == T0 + 0.05
    assert seen.write_latency is not None and seen.write_latency.sync is not None
    assert seen.write_latency.sync.count == 40
    assert seen.dns is not None and seen.dns.answer == ("127.0.0.12",)
    assert seen.dns.clients_switched_at == T0 + 7.0 and seen.dns.servers["ns1"] == T0 + 2.2
    back = seen.failback
    assert back is not None and back.site == "east" and back.rto_seconds == 3
    assert back.rejoin is not None and back.rejoin.mode is RejoinMode.REWOUND
    truth = back.continuity
    assert truth is not None and (truth.acknowledged_writes, truth.lost_writes) == (4, 2)
    assert [(w.seq, w.phase) for w in truth.lost] == [(3, "fault"), (4, "fault")]
    assert {p.phase: p.lost for p in truth.phases}["fault"] == 2
    assert seen.extra == {} and back.extra == {}
    truth_ = seen.ground_truth()
    assert (truth_.first_failure_seen, truth_.dns_converged_at) == (T0 + 0.05, T0 + 2.3)
    assert (truth_.clients_switched_at, truth_.rto_seconds) == (T0 + 7.0, 4.9)


def test_a_backend_error_is_recorded_as_reported() -> None:
    data = {"error": "lab control API: connection refused", "failback": {"error": "gone"}}
    seen = Observed.from_json(data)
    _same_bytes(data, seen)
    assert seen.error == "lab control API: connection refused" and seen.rto_seconds is None
    assert seen.failback == FailbackTruth(error="gone", keys=("error",))
    assert seen.scalars() == [("error", "lab control API: connection refused")]


def test_unknown_keys_and_unreadable_values_are_kept_as_written() -> None:
    data = {
        **FAILOVER,
        "rtoSeconds": "soon",  # unreadable: not a number
        "writeLatency": {"start": "then"},
        "futureTruth": {"x": 1},
        "failback": {**_failback(), "rejoin": {"mode": "teleported"}, "newKey": 2},
    }
    seen = Observed.from_json(data)
    assert seen.rto_seconds is None and seen.write_latency is None
    assert seen.extra == {
        "rtoSeconds": "soon",
        "writeLatency": {"start": "then"},
        "futureTruth": {"x": 1},
    }
    assert seen.failback is not None and seen.failback.rejoin is None
    assert seen.failback.extra == {"rejoin": {"mode": "teleported"}, "newKey": 2}
    assert seen.to_json() == data  # every key back (the unreadable ones after the known)
    assert ("rtoSeconds", "soon") in seen.scalars()


def test_a_failback_joins_what_was_observed_of_the_failover() -> None:
    seen = Observed.from_json(FAILOVER).with_failback(FailbackTruth.from_json(_failback()))
    assert list(seen.to_json()) == [*FAILOVER, "failback"]
    alone = Observed(keys=()).with_failback(FailbackTruth.from_json(_failback()))
    assert alone.to_json() == {"failback": _failback()}


def test_old_records_observed_values_read_the_same() -> None:
    old = {  # measurement v1 records (2026-11-24): six keys, no moments
        "rtoSeconds": 3.57,
        "lostWrites": 0,
        "lostWindowSeconds": 0.0,
        "probes": 97,
        "failedProbes": 7,
        "acknowledgedWrites": 120,
    }
    seen = Observed.from_json(old)
    _same_bytes(old, seen)
    assert seen.moments is None and seen.failback is None and seen.dns is None
    assert seen.scalars() == list(old.items())


@pytest.mark.parametrize("bad", [True, "3", [1]])
def test_a_count_that_is_not_a_whole_number_is_not_read_as_one(bad: Any) -> None:
    seen = Observed.from_json({"lostWrites": bad})
    assert seen.lost_writes is None and seen.extra == {"lostWrites": bad}
