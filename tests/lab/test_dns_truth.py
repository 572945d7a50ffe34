"""The lab's DNS ground truth (`ground_truth.dns_truth`) from crafted watcher and probe
records: when every server converged, and when each client switched. No lab runs here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.lab.ground_truth import dns_truth, first_failure_seen

OLD, NEW = ["127.0.20.1"], ["127.0.20.2"]


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def probe(ts: float, client: str, answer: list[str]) -> dict[str, Any]:
    return {"ts": ts, "ok": answer == NEW, "client": client, "answer": answer}


def test_converged_when_the_last_server_changed_and_switched_when_the_last_client_did(
    tmp_path: Path,
) -> None:
    answers = write(
        tmp_path / "a.jsonl",
        [
            {"ts": 1.0, "since": None, "server": "primary", "answer": OLD},
            {"ts": 1.0, "since": None, "server": "secondary-1", "answer": OLD},
            {"ts": 12.02, "since": 12.0, "server": "primary", "answer": NEW},
            {"ts": 12.31, "since": 12.28, "server": "secondary-1", "answer": NEW},
        ],
    )
    probes = [
        probe(12.2, "client-1", OLD),
        probe(12.4, "client-1", OLD),  # cached
        probe(12.5, "client-2", NEW),
        probe(16.9, "client-1", NEW),
        probe(17.0, "client-2", NEW),
    ]
    truth = dns_truth(answers, probes, start=10.0, until=30.0)
    assert truth is not None
    assert (truth["convergedAfter"], truth["convergedAt"]) == (12.28, 12.31)
    assert truth["answer"] == NEW
    assert truth["clients"] == {"client-2": 12.5, "client-1": 16.9}
    assert truth["clientsSwitchedAt"] == 16.9


def test_a_server_that_flapped_converged_at_its_last_change(tmp_path: Path) -> None:
    answers = write(
        tmp_path / "a.jsonl",
        [
            {"ts": 12.0, "since": 11.98, "server": "primary", "answer": NEW},
            {"ts": 12.5, "since": 12.48, "server": "primary", "answer": OLD},
            {"ts": 13.0, "since": 12.98, "server": "primary", "answer": NEW},
        ],
    )
    truth = dns_truth(answers, [], start=10.0, until=30.0)
    assert truth is not None and truth["convergedAt"] == 13.0 and truth["convergedAfter"] == 12.98
    assert truth["clientsSwitchedAt"] is None  # no client switched: unknown, never invented


def test_no_convergence_when_a_server_never_changed_or_servers_disagree(tmp_path: Path) -> None:
    stuck = write(
        tmp_path / "stuck.jsonl",
        [
            {"ts": 1.0, "since": None, "server": "secondary-1", "answer": OLD},
            {"ts": 12.0, "since": 11.98, "server": "primary", "answer": NEW},
        ],
    )
    truth = dns_truth(stuck, [], start=10.0, until=30.0)
    assert truth is not None and truth["convergedAt"] is None
    split = write(
        tmp_path / "split.jsonl",
        [
            {"ts": 12.0, "since": 11.9, "server": "primary", "answer": NEW},
            {"ts": 12.0, "since": 11.9, "server": "secondary-1", "answer": OLD + NEW},
        ],
    )
    split_truth = dns_truth(split, [], start=10.0, until=30.0)
    assert split_truth is not None and split_truth["convergedAt"] is None
    # a server that stopped answering has not converged either
    gone = write(
        tmp_path / "gone.jsonl",
        [
            {"ts": 12.0, "since": 11.9, "server": "primary", "answer": NEW},
            {"ts": 12.0, "since": 11.9, "server": "secondary-1", "answer": None},
        ],
    )
    gone_truth = dns_truth(gone, [], start=10.0, until=30.0)
    assert gone_truth is not None and gone_truth["convergedAt"] is None


def test_changes_after_the_window_do_not_count_and_no_file_means_no_dns(tmp_path: Path) -> None:
    answers = write(
        tmp_path / "a.jsonl",
        [
            {"ts": 12.0, "since": 11.9, "server": "primary", "answer": NEW},
            {"ts": 40.0, "since": 39.9, "server": "primary", "answer": OLD},  # failback
        ],
    )
    truth = dns_truth(answers, [], start=10.0, until=30.0)
    assert truth is not None and truth["convergedAt"] == 12.0 and truth["answer"] == NEW
    assert dns_truth(tmp_path / "missing.jsonl", [], start=0, until=1) is None


def test_the_failure_is_first_seen_when_a_failed_probe_ends_after_the_fault_was_applied(
    tmp_path: Path,
) -> None:
    faults = write(
        tmp_path / "faults.jsonl",
        [
            {"ts": 5.0, "id": "old-run-lose-east"},  # an earlier drill's fault
            {"ts": 99.6, "id": "run-lose-east"},  # applied; the runner confirms it at 100.0
            {"ts": 100.4, "id": "run-second-fault"},  # after the confirmation: not this one
        ],
    )
    probes = write(
        tmp_path / "p.jsonl",
        [
            {"ts": 99.0, "ok": False, "latency": 0.1},  # ended 99.1: before the fault
            {"ts": 99.3, "ok": False, "latency": 0.5},  # started before, ended 99.8: the first
            {"ts": 99.5, "ok": False, "latency": 0.02},  # ended 99.52, before the fault
            {"ts": 99.7, "ok": False, "latency": 0.2},  # ended 99.9
            {"ts": 99.8, "ok": True, "latency": 0.01},
        ],
    )
    seen = first_failure_seen(probes, faults, fault_start=100.0, until=200.0)
    assert seen == {"faultApplied": 99.6, "firstFailureSeen": 99.8}
    # without the lab's record of faults: from the confirmation on
    seen = first_failure_seen(probes, tmp_path / "none.jsonl", fault_start=99.85, until=200.0)
    assert seen == {"faultApplied": None, "firstFailureSeen": 99.9}
    assert first_failure_seen(probes, faults, fault_start=100.0, until=99.2) == {
        "faultApplied": 99.6,
        "firstFailureSeen": None,
    }
