"""What really happened, from the lab's own records: probes, router acks and surviving rows.

RTO is measured from the prober's record, data loss by comparing every write the
router acknowledged with the rows on the current primary. Writes are matched by
(origin, seq, created_at), since a promoted standby may hand out a seq that a
lost write already had. Only a promotion loses acknowledged writes, so acks from
before the last promotion preceding the fault belong to an earlier drill and are
not checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner.breakdown import LatencyComparison, LatencyStats

ACK_LOOKBACK = 60.0
"""Acks older than this before fault start are never checked."""
LATENCY_WINDOW = 30.0
"""Commit latencies are compared over this long before the fault start (steady state)."""
TS_TOLERANCE = 0.001


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open() as f:
            for line in f:
                if line.endswith("\n"):
                    yield json.loads(line)
    except FileNotFoundError:
        return


def rto(probes: list[dict[str, Any]], *, start: float, hold: float) -> float | None:
    """Seconds from `start` to the first probe of the final run of successes lasting ≥ hold."""
    run_start: float | None = None
    for p in probes:
        if not p["ok"]:
            run_start = None
        elif run_start is None:
            run_start = p["ts"]
    if run_start is None or not probes or probes[-1]["ts"] - run_start < hold:
        return None
    return max(0.0, run_start - start)


def lost_writes(
    acks: list[dict[str, Any]],
    present: set[tuple[str, int]],
    present_ts: dict[tuple[str, int], float],
) -> list[dict[str, Any]]:
    """Acknowledged writes whose row is missing (or is another write with the same seq)."""
    lost = []
    for a in acks:
        key = (a["site"], int(a["seq"]))
        if key not in present or abs(present_ts[key] - a["ts"]) > TS_TOLERANCE:
            lost.append(a)
    return lost


def lost_window(acks: list[dict[str, Any]], lost: list[dict[str, Any]]) -> float:
    """ts of the last lost ack minus ts of the last ack that survived before the first lost."""
    if not lost:
        return 0.0
    first_lost = min(a["ts"] for a in lost)
    last_lost = max(a["ts"] for a in lost)
    lost_keys = {(a["site"], a["seq"], a["ts"]) for a in lost}
    before = [
        a["ts"]
        for a in acks
        if a["ts"] < first_lost and (a["site"], a["seq"], a["ts"]) not in lost_keys
    ]
    return float(last_lost - (max(before) if before else first_lost))


def write_latency(commits_file: Path, *, start: float, end: float) -> LatencyComparison | None:
    """Synchronous and asynchronous commit latencies the order services measured in
    [start, end) (None when there were no synchronous commits there: nothing to compare)."""
    by_kind: dict[str, list[float]] = {"sync": [], "async": []}
    for c in read_jsonl(commits_file):
        if start <= c["ts"] < end and c.get("commit") in by_kind:
            by_kind[c["commit"]].append(float(c["seconds"]))
    if not by_kind["sync"]:
        return None
    return LatencyComparison(
        start=start,
        end=end,
        sync=LatencyStats.of(by_kind["sync"]),
        async_=LatencyStats.of(by_kind["async"]),
    )


def dns_truth(
    answers_file: Path, probes: list[dict[str, Any]], *, start: float, until: float
) -> dict[str, Any] | None:
    """When DNS really converged, and when each client really switched, from the lab's own
    polls of every authoritative server and its clients' probes (None without DNS).

    A server converged when its answer last changed in (start, until]; DNS converged when
    the last server did, in (`convergedAfter`, `convergedAt`] (the watcher's resolution).
    A client switched at its first probe after that whose answer was the final one."""
    changes = [a for a in read_jsonl(answers_file) if a["ts"] <= until]
    if not changes:
        return None
    final: dict[str, Any] = {}
    converged: dict[str, float] = {}
    after: dict[str, float] = {}
    for a in sorted(changes, key=lambda a: a["ts"]):
        final[a["server"]] = a["answer"]
        if a["ts"] > start:
            converged[a["server"]] = a["ts"]
            after[a["server"]] = a.get("since") or a["ts"]
        else:
            converged.pop(a["server"], None)
            after.pop(a["server"], None)
    answers = {None if a is None else tuple(a) for a in final.values()}
    if len(converged) < len(final) or len(answers) != 1 or None in answers:
        return {"convergedAt": None, "servers": converged, "clientsSwitchedAt": None}
    at = max(converged.values())
    answer = next(a for a in answers if a is not None)
    switched: dict[str, float] = {}
    for p in probes:
        client = p.get("client")
        if (
            client
            and client not in switched
            and p["ts"] >= at
            and tuple(p.get("answer") or ()) == answer
        ):
            switched[client] = p["ts"]
    clients = {p["client"] for p in probes if p.get("client")}
    return {
        "convergedAt": at,
        "convergedAfter": max(after.values()),
        "servers": converged,
        "answer": list(answer),
        "clients": switched,
        "clientsSwitchedAt": max(switched.values())
        if switched and set(switched) == clients
        else None,
    }


def first_failure_seen(
    probes_file: Path, faults_file: Path | None, *, fault_start: float, until: float
) -> dict[str, float | None]:
    """`faultApplied`: when the lab applied the fault the runner confirmed at `fault_start`
    (the last one applied by then; the confirmation comes later); `firstFailureSeen`: when
    the first probe that failed after that ended (a client saw the failure), None if none."""
    applied = [
        float(f["ts"])
        for f in (read_jsonl(faults_file) if faults_file is not None else [])
        if f["ts"] <= fault_start
    ]
    since = max(applied, default=None)
    ends = [
        float(p["ts"]) + float(p.get("latency") or 0.0)
        for p in read_jsonl(probes_file)
        if not p["ok"] and p["ts"] <= until
    ]
    start = fault_start if since is None else since
    seen = min((e for e in ends if e >= start), default=None)
    return {"faultApplied": since, "firstFailureSeen": seen}


def observe(
    *,
    probes_file: Path,
    acks_file: Path,
    promotions_file: Path,
    commits_file: Path | None = None,
    answers_file: Path | None = None,
    faults_file: Path | None = None,
    rows: list[tuple[str, int, float]],
    fault_start: float,
    hold_seconds: float,
    until: float,
) -> dict[str, Any]:
    """The `observed` mapping of `TargetBackend` from the lab's records."""
    probes = sorted(
        (p for p in read_jsonl(probes_file) if fault_start <= p["ts"] <= until),
        key=lambda p: p["ts"],
    )
    earlier = [p["ts"] for p in read_jsonl(promotions_file) if p["ts"] < fault_start]
    since = max([fault_start - ACK_LOOKBACK, *earlier])
    acks = sorted(
        (a for a in read_jsonl(acks_file) if since <= a["ts"] <= until),
        key=lambda a: a["ts"],
    )
    present_ts = {(o, s): t for o, s, t in rows}
    lost = lost_writes(acks, set(present_ts), present_ts)
    latency = (
        None
        if commits_file is None
        else write_latency(commits_file, start=fault_start - LATENCY_WINDOW, end=fault_start)
    )
    dns = (
        None
        if answers_file is None
        else dns_truth(answers_file, probes, start=fault_start, until=until)
    )
    applied = first_failure_seen(probes_file, faults_file, fault_start=fault_start, until=until)
    return {
        **({"writeLatency": latency.to_json()} if latency is not None else {}),
        **({"dns": dns} if dns is not None else {}),
        "moments": applied,
        "rtoSeconds": rto(probes, start=fault_start, hold=hold_seconds),
        "lostWrites": len(lost),
        "lostWindowSeconds": round(lost_window(acks, lost), 3),
        "probes": len(probes),
        "failedProbes": sum(1 for p in probes if not p["ok"]),
        "acknowledgedWrites": len(acks),
    }


def observe_failback(
    *,
    probes_file: Path,
    acks_file: Path,
    promotions_file: Path,
    rejoins_file: Path,
    rows: list[tuple[str, int, float]] | None,
    site: str,
    fault_start: float,
    failback_start: float,
    hold_seconds: float,
    until: float,
) -> dict[str, Any]:
    """The failback's truth from the lab's records: the failback RTO from the prober's
    log, how `site` last rejoined (the supervisor's record), and the ledger of every
    write acknowledged since the drill began with the rows of the final primary (the
    engine checks one against the other per phase: `runner.measure.continuity`)."""
    probes = sorted(
        (p for p in read_jsonl(probes_file) if failback_start <= p["ts"] <= until),
        key=lambda p: p["ts"],
    )
    earlier = [p["ts"] for p in read_jsonl(promotions_file) if p["ts"] < fault_start]
    since = max([fault_start - ACK_LOOKBACK, *earlier])
    acks = [
        [str(a["site"]), int(a["seq"]), float(a["ts"])]
        for a in read_jsonl(acks_file)
        if since <= a["ts"] <= until
    ]
    rejoins = [
        r
        for r in read_jsonl(rejoins_file)
        if r.get("site") == site and fault_start <= r["ts"] <= until
    ]
    return {
        "site": site,
        "rtoSeconds": rto(probes, start=failback_start, hold=hold_seconds),
        "probes": len(probes),
        "failedProbes": sum(1 for p in probes if not p["ok"]),
        "rejoin": {k: v for k, v in rejoins[-1].items() if k != "ts"} if rejoins else None,
        "ledger": None
        if rows is None
        else {"since": since, "acks": acks, "present": [list(r) for r in rows]},
    }
