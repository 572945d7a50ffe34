"""The hash chain of a run's event log (`events.jsonl`): the one writer of its lines, and
the check that names the first entry that does not fit.

Every line is one JSON object whose first two fields are `seq` (0, 1, 2, ...) and `prev`:
the SHA-256 (hex) of the exact bytes of the previous line (without its newline); the first
entry's `prev` is the SHA-256 of `drill-runner events <run id>`, so a log cannot be moved to
another run. The hash of the last line is the log's head; `run.json` carries it
(`journal: {entries, head}`), so an edited, removed, inserted or reordered entry, or a
removed last entry, is detected. Appends take an exclusive `flock` on the file and read its
tail, so the engine, a crash sweeper and `drillctl evidence` can append in turn.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS = "events.jsonl"
TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Head:
    """Where a log stands: how many entries, and the hash of the last one (the genesis
    hash when it is empty)."""

    entries: int
    head: str

    def to_json(self) -> dict[str, Any]:
        return {"entries": self.entries, "head": self.head}


@dataclass(frozen=True)
class Break:
    """The first place the chain does not hold."""

    line: int
    """1-based line of events.jsonl (0: the log as a whole, against run.json's head)."""
    message: str


def genesis(run_id: str) -> str:
    return sha256(f"drill-runner events {run_id}".encode())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def append(folder: Path, run_id: str, entry: Mapping[str, Any], *, sync: bool = False) -> Head:
    """Append `entry` (already masked) as the next chained line of `folder/events.jsonl` and
    return the new head. Raises OSError (the caller decides what a failed write means)."""
    path = folder / EVENTS
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last, cut = _last_line(fd)
        if last is None:
            seq, prev = 0, genesis(run_id)
        else:
            seq, prev = _seq_of(last) + 1, sha256(last)
        fields = {k: v for k, v in entry.items() if k not in ("seq", "prev")}
        line = json.dumps({"seq": seq, "prev": prev, **fields}, default=str).encode()
        os.write(fd, (b"\n" if cut else b"") + line + b"\n")
        if sync:
            os.fsync(fd)
        return Head(entries=seq + 1, head=sha256(line))
    finally:
        os.close(fd)  # releases the lock


def _last_line(fd: int) -> tuple[bytes | None, bool]:
    """The last complete line of the file, and whether the file ends in a cut line."""
    size = os.lseek(fd, 0, os.SEEK_END)
    if size == 0:
        return None, False
    cut = os.pread(fd, 1, size - 1) != b"\n"
    buf, pos = b"", size
    while True:
        step = min(TAIL_CHUNK, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        end = buf.rfind(b"\n")
        if end >= 0:
            start = buf.rfind(b"\n", 0, end)
            if start >= 0 or pos == 0:
                return buf[start + 1 : end], cut
        elif pos == 0:
            return None, cut  # only a cut line


def _seq_of(line: bytes) -> int:
    try:
        seq = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        seq = None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else -1


def read_head(folder: Path, run_id: str) -> Head:
    """The head of the log as it is on disk (no check)."""
    try:
        data = (folder / EVENTS).read_bytes()
    except FileNotFoundError:
        data = b""
    lines = data.split(b"\n")[:-1]
    if not lines:
        return Head(0, genesis(run_id))
    return Head(len(lines), sha256(lines[-1]))


def verify(data: bytes, run_id: str, recorded: Mapping[str, Any] | None) -> Break | None:
    """Check the log's bytes against its chain and against the head `run.json` recorded;
    None when it holds, else the first break, naming its line."""
    if data and not data.endswith(b"\n"):
        return Break(data.count(b"\n") + 1, "the last line is cut short (not a whole entry)")
    lines = data.split(b"\n")[:-1] if data else []
    prev = genesis(run_id)
    for index, line in enumerate(lines):
        where = f"entry {index}"
        try:
            item = json.loads(line)
        except ValueError:
            return Break(index + 1, f"{where} is not JSON (changed or damaged)")
        if not isinstance(item, dict) or "prev" not in item:
            return Break(index + 1, f"{where} is not a chained entry")
        action = item.get("action")
        what = f"{where} ({action})" if isinstance(action, str) else where
        if item.get("seq") != index:
            return Break(
                index + 1,
                f"{what} has seq {item.get('seq')!r} where {index} belongs: "
                "entries were removed, inserted or reordered",
            )
        if item["prev"] != prev:
            if index == 0:
                return Break(1, f"{what} does not start the chain of run {run_id}")
            # Which side of the link changed: the entry whose successor still vouches for
            # it is intact, so then the one before it was changed.
            after = _successor_prev(lines, index, recorded)
            if after == sha256(line):
                return Break(
                    index,
                    f"entry {index - 1} was changed: its hash no longer matches the one "
                    f"entry {index} recorded",
                )
            return Break(index + 1, f"{what} was changed: it does not follow entry {index - 1}")
        prev = sha256(line)
    if recorded is None:
        return Break(0, "run.json carries no journal head")
    entries, head = recorded.get("entries"), recorded.get("head")
    if entries != len(lines) or head != prev:
        if entries == len(lines) and lines:
            return Break(len(lines), f"entry {len(lines) - 1} (the last) was changed")
        return Break(
            0,
            f"the log has {len(lines)} entries but run.json recorded {entries!r}: "
            "entries were removed from or added to its end",
        )
    return None


def _successor_prev(lines: list[bytes], index: int, recorded: Mapping[str, Any] | None) -> Any:
    """What vouches for entry `index`: the next entry's `prev`, or run.json's head."""
    if index + 1 < len(lines):
        try:
            return json.loads(lines[index + 1]).get("prev")
        except (ValueError, AttributeError):
            return None
    return recorded.get("head") if recorded is not None else None
