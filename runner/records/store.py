"""The run record, written as the run goes so a crash still leaves a readable partial record.

`run.json` is rewritten atomically (temp file + rename) on every change; `events.jsonl` is
append-only, one JSON object a line; `ledger.jsonl` holds the intent to create each fault
before it is created, so a crashed run can be swept up from its folder as well as by labels.
The schema is versioned (`schemaVersion`) and documented in docs/run-record.md. Everything
is masked on the way in (`runner.redact.value`), so neither the files nor `data` (which the
summary, JUnit and reports are made from) ever hold a secret.

A write that fails after the folder exists (disk full, read-only, I/O error) never raises:
the change is kept in memory, the failure is remembered in `failures`, and the engine
decides what it means (stop the forward phases; never skip removing faults or releasing
locks). Only creating the folder raises, as `RecordWriteError`, before anything is touched.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import redact
from runner.errors import DrillError
from runner.records import chain

SCHEMA_VERSION = 1
RUN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


class RecordWriteError(DrillError):
    """The run record could not be written (disk full, read-only, I/O error)."""


def describe_os_error(e: OSError) -> str:
    """`No space left on device (ENOSPC)`: the cause without the path (we name it ourselves)."""
    code = errno.errorcode.get(e.errno or 0)
    text = e.strerror or type(e).__name__
    return f"{text} ({code})" if code else text


class RunRecord:
    """One run's folder. Thread-safe: fault windows end on a timer thread and write too."""

    def __init__(self, results_dir: Path, run_id: str, initial: Mapping[str, Any]) -> None:
        if not RUN_ID_RE.match(run_id):
            raise ValueError(f"bad run id {run_id!r}")
        self.dir = results_dir / run_id
        self._lock = threading.RLock()
        self.failures: list[str] = []
        """The first writes that failed, as `file: cause`, in order (at most 20 kept)."""
        self.failure_count = 0
        self.data: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION, "runId": run_id}
        self.data.update(redact.value(dict(initial)))
        try:
            self.dir.mkdir(parents=True, exist_ok=True)  # `results.reserve` may have made it
            if self.run_json.exists():  # never overwrite another run's record
                raise FileExistsError(errno.EEXIST, "another run's record is there")
        except OSError as e:
            raise RecordWriteError(
                f"cannot create the run record folder {self.dir}: {describe_os_error(e)}"
            ) from None
        self.save()
        if self.failures:
            raise RecordWriteError(
                f"cannot write the run record in {self.dir}: {self.failures[0]}; nothing was done"
            )

    @property
    def run_json(self) -> Path:
        return self.dir / "run.json"

    def _failed(self, name: str, e: OSError) -> None:
        self.failure_count += 1
        if len(self.failures) < 20:
            self.failures.append(f"{name}: {describe_os_error(e)}")

    def save(self) -> None:
        with self._lock:
            tmp = self.dir / "run.json.tmp"
            try:
                tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
                os.replace(tmp, self.run_json)
            except OSError as e:
                self._failed("run.json", e)
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)  # a half-written temp file only eats space

    def write_file(self, name: str, text: str) -> bool:
        """Write another file of the record (junit.xml, reports); False when it failed."""
        with self._lock:
            try:
                (self.dir / name).write_text(text)
            except OSError as e:
                self._failed(name, e)
                return False
            return True

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.data.update(redact.value(fields))
            self.save()

    def append(self, key: str, item: Mapping[str, Any]) -> int:
        """Append to a list field; returns the item's index."""
        with self._lock:
            items = self.data.setdefault(key, [])
            items.append(redact.value(dict(item)))
            self.save()
            return len(items) - 1

    def patch_item(self, key: str, index: int, **fields: Any) -> None:
        with self._lock:
            self.data[key][index].update(redact.value(fields))
            self.save()

    def event(
        self,
        at: datetime,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one audit event: who did what to which target, when."""
        line = redact.value(
            {"time": at.isoformat(), "actor": actor, "action": action, "target": target}
        )
        if details:
            line["details"] = redact.value(dict(details))
        self.entry(line)

    def entry(self, line: Mapping[str, Any]) -> None:
        """Append one masked entry to the hash-chained log and carry its head in run.json."""
        with self._lock:
            try:
                head = chain.append(self.dir, self.data["runId"], line)
            except OSError as e:
                self._failed(chain.EVENTS, e)
                return
            self.data["journal"] = head.to_json()
            self.save()

    def ledger(self, entry: Mapping[str, Any]) -> bool:
        """Write a fault intent or outcome to the ledger, flushed to disk before acting.

        False when it could not be written: the caller must not act on an unwritten intent."""
        return self._append_line("ledger.jsonl", json.dumps(redact.value(dict(entry)), default=str))

    def _append_line(self, name: str, line: str, *, sync: bool = True) -> bool:
        with self._lock:
            try:
                with (self.dir / name).open("a") as f:
                    f.write(line + "\n")
                    f.flush()
                    if sync:
                        os.fsync(f.fileno())
            except OSError as e:
                self._failed(name, e)
                return False
            return True


def mark_crashed(
    results_dir: Path, run_id: str, *, at: datetime, reason: str, details: Mapping[str, Any]
) -> str:
    """Close the record of a run whose process died: status `crashed`, with the reason and
    what was done about it (`crash`), and a `run.crashed` event. Only a record that still
    says `running` changes. Never raises: returns what happened, in a few words."""
    if not RUN_ID_RE.match(run_id):
        return "not written (not a run id)"
    folder = results_dir / run_id
    try:
        data = json.loads((folder / "run.json").read_text())
    except FileNotFoundError:
        return "not found"
    except (OSError, ValueError) as e:
        cause = describe_os_error(e) if isinstance(e, OSError) else "not JSON"
        return f"unreadable ({cause})"
    if not isinstance(data, dict):
        return "unreadable (not a JSON object)"
    if data.get("status") != "running":
        return f"already {data.get('status')}"
    crash = {"detectedAt": iso(at), **redact.value(dict(details))}
    data.update(status="crashed", reason=redact.text(reason), finishedAt=iso(at), crash=crash)
    tmp = folder / f"run.json.crashed.{os.getpid()}.tmp"
    event = {"time": iso(at), "actor": str(details.get("by") or ""), "action": "run.crashed"}
    event = redact.value({**event, "details": {"reason": reason, **crash}})
    try:
        data["journal"] = chain.append(folder, run_id, event).to_json()
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, folder / "run.json")
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return f"not written ({describe_os_error(e)})"
    return "marked crashed"


def append_after(folder: Path, run_id: str, entry: Mapping[str, Any]) -> chain.Head:
    """Append one entry (masked) to a finished run's journal and move run.json's head: how
    sign-off, deficiency updates and approvals after the run are recorded, never by
    rewriting an entry. Raises RecordWriteError when it cannot be written."""
    path = folder / "run.json"
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        head = chain.append(folder, run_id, redact.value(dict(entry)), sync=True)
        data["journal"] = head.to_json()
        tmp = folder / f"run.json.append.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        raise RecordWriteError(
            f"cannot append to the journal in {folder}: {describe_os_error(e)}"
        ) from None
    except ValueError as e:
        raise RecordWriteError(
            f"cannot append to the journal in {folder}: run.json is {e}"
        ) from None
    return head
