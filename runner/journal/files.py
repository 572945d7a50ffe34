"""Reading a run's journal back from its folder: run.json (the run) and events.jsonl (its
append-only log). The one place a run record is parsed; every front-end reads through here.

A run.json that is unreadable or not a run record is a `ResultsError` naming the file and
the field (`results/x/run.json is not a run record: phases is not a list of objects`); when
listing a folder, such records are skipped with a warning, so one bad record never breaks
`history` or `status` for the whole folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from runner.errors import UsageError
from runner.journal.events import AuditEvent
from runner.journal.run import JournalError, Run
from runner.records import results
from runner.records.results import ResultsError, Warn
from runner.records.store import describe_os_error as why


@dataclass(frozen=True)
class RunFolder:
    """A run record and its audit trail, as the reports see it."""

    dir: Path
    run: Run
    events: tuple[AuditEvent, ...]

    @property
    def run_id(self) -> str:
        return self.run.run_id or self.dir.name


def locate(run: str, results_dir: Path) -> Path:
    """The folder of RUN: a folder holding run.json, else a run id under results_dir."""
    if "\x00" not in run and _is_file(Path(run) / "run.json"):
        return Path(run)
    if results.RUN_ID_RE.match(run) and _is_file(results_dir / run / "run.json"):
        return results_dir / run
    shown = run if len(run) <= 80 else run[:77] + "..."
    raise UsageError(f"no run {shown!r} in {results_dir} (and {shown!r} is not a run folder)")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long, a loop: not a run folder
        return False


def read(path: Path) -> Run:
    """One run.json; ResultsError naming the file when it is unreadable or not a record."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ResultsError(f"cannot read {path}: {why(e)}") from None
    return parse(data, str(path))


def parse(data: bytes, name: str) -> Run:
    """A run.json's bytes (`name` says where they are); ResultsError naming it and the field
    when they are not a run record."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except ValueError as e:  # not JSON, or not UTF-8
        raise ResultsError(f"{name} is not a run record: not valid JSON ({_short(e)})") from None
    try:
        return Run.from_json(raw)
    except JournalError as e:
        raise ResultsError(f"{name} is not a run record: {e}") from None


def _short(e: Exception) -> str:
    text = str(e)
    return text if len(text) <= 80 else text[:77] + "..."


def read_run(results_dir: Path, run_id: str) -> Run:
    return read(results.run_folder(results_dir, run_id) / "run.json")


def read_events(folder: Path) -> tuple[AuditEvent, ...]:
    """The audit trail, skipping a line cut short by a crash (or not an event)."""
    path = folder / "events.jsonl"
    try:
        text = path.read_text(errors="replace") if path.is_file() else ""
    except OSError:
        return ()  # the trail is a courtesy; the record is the truth
    events = []
    for line in text.splitlines():
        try:
            events.append(AuditEvent.from_json(json.loads(line)))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return tuple(events)


def load(folder: Path) -> RunFolder:
    """The record in `folder`; ResultsError when run.json is not one."""
    return RunFolder(dir=folder, run=read(folder / "run.json"), events=read_events(folder))


def list_runs(results_dir: Path, warn: Warn = lambda message: None) -> list[Run]:
    """Every run record under `results_dir`, oldest first; the others reported to `warn`."""
    runs = []
    try:
        folders = sorted(results_dir.iterdir()) if results_dir.is_dir() else []
    except OSError as e:
        warn(f"cannot list {results_dir}: {why(e)}")
        return []
    paths = [f / "run.json" for f in folders if os.path.lexists(f / "run.json")]
    for path in paths:
        try:
            runs.append(read(path))
        except ResultsError as e:
            warn(f"skipped {e}")
    return sorted(runs, key=lambda r: r.started_at.isoformat() if r.started_at else "")
