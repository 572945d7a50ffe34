"""RTO and lost-write arithmetic over the lab's records (pure functions)."""

from __future__ import annotations

from runner.lab.ground_truth import lost_window, lost_writes, rto


def probes(*pattern: tuple[float, bool]) -> list[dict[str, object]]:
    return [{"ts": ts, "ok": ok} for ts, ok in pattern]


def test_rto_is_start_of_final_run_of_successes() -> None:
    p = probes((10.0, True), (11.0, False), (12.0, True), (13.0, False), (14.0, True), (20.0, True))
    assert rto(p, start=10.0, hold=5.0) == 4.0


def test_rto_is_none_when_final_run_is_shorter_than_hold() -> None:
    p = probes((10.0, False), (14.0, True), (15.0, True))
    assert rto(p, start=10.0, hold=5.0) is None


def test_rto_is_zero_without_any_failure() -> None:
    assert rto(probes((10.5, True), (16.0, True)), start=10.0, hold=5.0) == 0.5


def test_lost_writes_match_origin_seq_and_time() -> None:
    acks = [{"site": "east", "seq": n, "ts": 100.0 + n} for n in range(1, 6)]
    present = {("east", 1): 101.0, ("east", 2): 102.0, ("east", 4): 999.0}  # 4 reused by another
    lost = lost_writes(acks, set(present), present)
    assert [a["seq"] for a in lost] == [3, 4, 5]
    assert lost_window(acks, lost) == 105.0 - 102.0


def test_no_loss_no_window() -> None:
    acks = [{"site": "east", "seq": 1, "ts": 1.0}]
    assert lost_window(acks, lost_writes(acks, {("east", 1)}, {("east", 1): 1.0})) == 0.0
