"""The hash chain of events.jsonl: written by the one writer, checked from its definition.

The oracle is the definition (docs/evidence-auditors.md), computed here with hashlib: entry i
has `seq` i and `prev` = SHA-256 of the exact bytes of line i-1 (the genesis string for the
first), and run.json's `journal` is `{entries, head}` of the last line. Every single-byte
edit, every removal, every swap and every forged append must be found and named."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.journal import chain
from runner.journal.run import Ref, Run
from runner.journal.writer import JournalWriter, mark_crashed

RUN = "chain-test-20260101-000000-abcd"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _h(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record(tmp_path: Path, n: int = 8) -> JournalWriter:
    record = JournalWriter(tmp_path, Run(run_id=RUN, scenario=Ref(name="s"), drill=Ref(name="d")))
    for i in range(n):
        record.event(T0 + timedelta(seconds=i), "alice", f"step.{i}", "site-a", {"i": i})
    return record


def _oracle_ok(folder: Path) -> bool:
    data = (folder / "events.jsonl").read_bytes()
    lines = data.split(b"\n")[:-1]
    prev = _h(f"drill-runner events {RUN}".encode())
    for i, line in enumerate(lines):
        item = json.loads(line)
        if item["seq"] != i or item["prev"] != prev:
            return False
        prev = _h(line)
    journal = json.loads((folder / "run.json").read_text())["journal"]
    return journal == {"entries": len(lines), "head": prev}


def _check(folder: Path) -> chain.Break | None:
    run = json.loads((folder / "run.json").read_text())
    return chain.verify((folder / "events.jsonl").read_bytes(), RUN, run.get("journal"))


def test_written_log_matches_the_definition(tmp_path: Path) -> None:
    record = _record(tmp_path)
    assert _oracle_ok(record.dir)
    assert _check(record.dir) is None
    first = json.loads((record.dir / "events.jsonl").read_text().splitlines()[0])
    assert list(first)[:2] == ["seq", "prev"] and first["action"] == "step.0"


def test_every_single_byte_edit_is_found_and_named(tmp_path: Path) -> None:
    record = _record(tmp_path, 5)
    path = record.dir / "events.jsonl"
    original = path.read_bytes()
    starts = [0, *[i + 1 for i, b in enumerate(original) if b == 0x0A][:-1]]
    found = 0
    for offset in range(len(original)):
        if original[offset] == 0x0A:
            continue  # a newline turned into another byte is covered by the join test below
        damaged = bytearray(original)
        damaged[offset] = damaged[offset] ^ 0x01
        path.write_bytes(bytes(damaged))
        broken = _check(record.dir)
        assert broken is not None, f"byte {offset} changed and not found"
        line = sum(1 for s in starts if s <= offset)  # 1-based line holding the byte
        assert broken.line == line, (offset, line, broken)
        found += 1
    path.write_bytes(original)
    assert _check(record.dir) is None
    assert found == len(original) - original.count(b"\n")


def test_removed_lines_are_found(tmp_path: Path) -> None:
    record = _record(tmp_path, 6)
    path = record.dir / "events.jsonl"
    lines = path.read_bytes().split(b"\n")[:-1]
    for i in range(len(lines)):
        path.write_bytes(b"".join(line + b"\n" for j, line in enumerate(lines) if j != i))
        broken = _check(record.dir)
        assert broken is not None, f"line {i + 1} removed and not found"
        if i < len(lines) - 1:
            assert broken.line == i + 1 and "removed" in broken.message
        else:
            assert broken.line == 0 and "removed" in broken.message


def test_reordered_lines_are_found(tmp_path: Path) -> None:
    record = _record(tmp_path, 6)
    path = record.dir / "events.jsonl"
    lines = path.read_bytes().split(b"\n")[:-1]
    for i in range(len(lines) - 1):
        swapped = list(lines)
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
        path.write_bytes(b"".join(line + b"\n" for line in swapped))
        broken = _check(record.dir)
        assert broken is not None and broken.line == i + 1 and "reordered" in broken.message


def test_forged_append_and_moved_log_are_found(tmp_path: Path) -> None:
    record = _record(tmp_path, 3)
    path = record.dir / "events.jsonl"
    original = path.read_bytes()
    last = original.split(b"\n")[-2]
    forged = json.dumps({"seq": 3, "prev": _h(last), "action": "signoff"}).encode()
    path.write_bytes(original + forged + b"\n")  # a valid link, but run.json's head disagrees
    broken = _check(record.dir)
    assert broken is not None and broken.line == 0 and "added" in broken.message
    path.write_bytes(original)
    run = json.loads((record.dir / "run.json").read_text())
    moved = chain.verify(original, "another-run-20260101-000000-0000", run["journal"])
    assert moved is not None and moved.line == 1 and "does not start" in moved.message
    assert chain.verify(original[:-5], RUN, run["journal"]) is not None  # cut short
    assert chain.verify(original, RUN, None) is not None  # no head in run.json


def test_appends_from_threads_and_processes_keep_one_chain(tmp_path: Path) -> None:
    record = _record(tmp_path, 1)

    def burst(tag: str) -> None:
        for i in range(30):
            chain.append(record.dir, RUN, {"action": f"{tag}.{i}"})

    threads = [threading.Thread(target=burst, args=(f"t{n}",)) for n in range(3)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_proc_burst, args=(str(record.dir), f"p{n}")) for n in range(2)]
    for t in threads:
        t.start()
    for p in procs:
        p.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    head = chain.read_head(record.dir, RUN)
    assert head.entries == 1 + 3 * 30 + 2 * 30
    data = (record.dir / "events.jsonl").read_bytes()
    assert chain.verify(data, RUN, head.to_json()) is None


def _proc_burst(folder: str, tag: str) -> None:
    for i in range(30):
        chain.append(Path(folder), RUN, {"action": f"{tag}.{i}"})


def test_a_line_cut_by_a_crash_is_named_and_later_entries_chain_on(tmp_path: Path) -> None:
    record = _record(tmp_path, 3)
    path = record.dir / "events.jsonl"
    with path.open("ab") as f:
        f.write(b'{"seq": 3, "prev": "ab')  # the process died mid-line
    broken = _check(record.dir)
    assert broken is not None and broken.line == 4 and "cut short" in broken.message
    head = chain.append(record.dir, RUN, {"action": "after"})
    lines = path.read_bytes().split(b"\n")[:-1]
    assert json.loads(lines[-1])["seq"] == 3 and json.loads(lines[-1])["prev"] == _h(lines[2])
    assert head.entries == 4  # the cut line is its own line, not part of the chain
    broken = chain.verify(path.read_bytes(), RUN, head.to_json())
    assert broken is not None and broken.line == 4 and "not JSON" in broken.message


def test_a_crashed_run_is_closed_with_a_chained_entry(tmp_path: Path) -> None:
    record = _record(tmp_path, 4)
    said = mark_crashed(tmp_path, RUN, at=T0 + timedelta(hours=1), reason="gone", details={})
    assert said == "marked crashed"
    assert _oracle_ok(record.dir) and _check(record.dir) is None
    last = json.loads((record.dir / "events.jsonl").read_text().splitlines()[-1])
    assert last["action"] == "run.crashed" and last["seq"] == 4


@pytest.mark.parametrize("entries", [0, 1])
def test_empty_and_single_logs(tmp_path: Path, entries: int) -> None:
    record = _record(tmp_path, entries)
    if entries == 0:
        assert not (record.dir / "events.jsonl").exists()
        assert chain.verify(b"", RUN, chain.read_head(record.dir, RUN).to_json()) is None
    else:
        assert _oracle_ok(record.dir) and _check(record.dir) is None
