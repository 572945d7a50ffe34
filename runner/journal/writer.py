"""Writing a run's journal as the run goes, so a crash still leaves a readable partial record.

The engine keeps the run as a typed `Run` here and changes it through `set`, `append` and
`patch`; every change rewrites run.json atomically (temp file + rename). events.jsonl is the
journal's append-only, hash-chained log (`runner.journal.chain`): every line is written by
`append_event`, the one function that writes it (the engine's audit events, a crashed run's
closing, and what is appended after the run: sign-off, approvals), and run.json's `journal`
carries the chain's head. ledger.jsonl holds the intent to create each fault, flushed to
disk before it is created.

Everything is masked on the way out (`runner.redact.value`): run.json, events.jsonl, the
ledger, and `snapshot()` (what the summary, JUnit and reports are made from) never hold a
secret. The in-memory `run` is the engine's own state, exact (a verdict is never decided
on rounded values).

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
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from runner import redact
from runner.journal import chain
from runner.journal.entries import (
    FaultEntry,
    GuardrailBreach,
    JournalHead,
    PhaseEntry,
    StepEntry,
    iso,
)
from runner.journal.events import AuditEvent
from runner.journal.run import Run
from runner.journal.status import Status
from runner.records.store import RUN_ID_RE, RecordWriteError, describe_os_error

Listed = Literal["phases", "faults", "steps", "guardrails"]
Entry = PhaseEntry | FaultEntry | StepEntry | GuardrailBreach


def append_event(
    folder: Path, run_id: str, event: AuditEvent | Mapping[str, Any], *, sync: bool = False
) -> JournalHead:
    """Append one entry (masked) as the next chained line of `folder`/events.jsonl: the one
    writer of the journal's log. Returns the new head; OSError when it cannot be written."""
    line = event.to_json() if isinstance(event, AuditEvent) else dict(event)
    head = chain.append(folder, run_id, redact.value(line), sync=sync)
    return JournalHead(entries=head.entries, head=head.head)


class JournalWriter:
    """One run's folder and its journal. Thread-safe: fault windows end on a timer thread
    and write too."""

    def __init__(self, results_dir: Path, run: Run) -> None:
        if not RUN_ID_RE.match(run.run_id):
            raise ValueError(f"bad run id {run.run_id!r}")
        self.dir = results_dir / run.run_id
        self._lock = threading.RLock()
        self._run = run
        self._inputs: tuple[object, Any] | None = None
        """The masked JSON of `measurement_inputs` (large, written once), by identity."""
        self.failures: list[str] = []
        """The first writes that failed, as `file: cause`, in order (at most 20 kept)."""
        self.failure_count = 0
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

    @property
    def run(self) -> Run:
        """The run as the engine knows it (exact, not masked)."""
        return self._run

    def snapshot(self) -> Run:
        """The run as it is written: masked, with measurements at their recorded precision.
        What the reports, JUnit and the front-ends get."""
        return Run.from_json(self._masked())

    def _masked(self) -> dict[str, Any]:
        with self._lock:
            data = self._run.to_json()
            inputs = data.pop("measurementInputs", None)
            masked: dict[str, Any] = redact.value(data)
            if inputs is not None:
                if self._inputs is None or self._inputs[0] is not self._run.measurement_inputs:
                    self._inputs = (self._run.measurement_inputs, redact.value(inputs))
                masked["measurementInputs"] = self._inputs[1]
            return masked

    def _failed(self, name: str, e: OSError) -> None:
        self.failure_count += 1
        if len(self.failures) < 20:
            self.failures.append(f"{name}: {describe_os_error(e)}")

    def save(self) -> None:
        with self._lock:
            tmp = self.dir / "run.json.tmp"
            try:
                tmp.write_text(json.dumps(self._masked(), indent=2, default=str) + "\n")
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

    # ------------------------------------------------------------------ changes

    def change(self, how: Callable[[Run], Run]) -> None:
        with self._lock:
            self._run = how(self._run)
            self.save()

    def set(self, **fields: Any) -> None:
        """Replace top-level fields of the run (`status=`, `timeline=`, ...)."""
        self.change(lambda run: replace(run, **fields))

    def append(self, kind: Listed, entry: Entry) -> int:
        """Append an entry to one of the run's lists; returns its index."""
        with self._lock:
            items: tuple[Entry, ...] = getattr(self._run, kind)
            self.set(**{kind: (*items, entry)})
            return len(items)

    def patch(self, kind: Listed, index: int, **changes: Any) -> None:
        """Change fields of one entry of the run's lists."""
        with self._lock:
            items = list(getattr(self._run, kind))
            items[index] = replace(items[index], **changes)
            self.set(**{kind: tuple(items)})

    # ------------------------------------------------------------------ append-only files

    def event(
        self,
        at: datetime,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one audit event: who did what to which target, when."""
        event = AuditEvent(
            time=at, actor=actor, action=action, target=target, details=dict(details or {})
        )
        with self._lock:
            try:
                head = append_event(self.dir, self._run.run_id, event)
            except OSError as e:
                self._failed(chain.EVENTS, e)
                return
            self.set(journal=head)

    def ledger(self, entry: Mapping[str, Any]) -> bool:
        """Write a fault intent or outcome to the ledger, fsynced before acting.

        False when it could not be written: the caller must not act on an unwritten intent."""
        line = json.dumps(redact.value(dict(entry)), default=str)
        with self._lock:
            try:
                with (self.dir / "ledger.jsonl").open("a") as f:
                    f.write(line + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                self._failed("ledger.jsonl", e)
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
    if data.get("status") != Status.RUNNING.value:
        return f"already {data.get('status')}"
    # a record of any version (even one cut short) is closed: only what closing changes is
    # written, the rest stays byte for byte as the run wrote it
    closing = {"detectedAt": iso(at), **redact.value(dict(details))}
    data.update(
        status=Status.CRASHED.value, reason=redact.text(reason), finishedAt=iso(at), crash=closing
    )
    tmp = folder / f"run.json.crashed.{os.getpid()}.tmp"
    event = AuditEvent(
        time=at,
        actor=str(details.get("by") or ""),
        action="run.crashed",
        details={"reason": reason, **closing},
    )
    try:
        data["journal"] = append_event(folder, run_id, event).to_json()
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, folder / "run.json")
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return f"not written ({describe_os_error(e)})"
    return "marked crashed"


def append_after(folder: Path, run_id: str, entry: Mapping[str, Any]) -> JournalHead:
    """Append one entry (masked) to a finished run's journal and move run.json's head: how
    sign-off, deficiency updates and approvals after the run are recorded, never by
    rewriting an entry. Raises RecordWriteError when it cannot be written."""
    path = folder / "run.json"
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        head = append_event(folder, run_id, entry, sync=True)
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
