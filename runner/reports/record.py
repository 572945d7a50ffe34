"""A dict view of one run folder, for the code not yet moved to the typed journal (the
exercise evidence: `runner.reports.exercise`, `drillctl evidence`). The record is still
parsed and checked by `runner.journal.files` (the one reader); this only hands its JSON on.
New code reads `runner.journal.files.RunFolder` instead."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.journal.files import locate as locate
from runner.records import results


@dataclass(frozen=True)
class RunFolder:
    """A run record as a report sees it."""

    dir: Path
    run: dict[str, Any]
    events: list[dict[str, Any]]

    @property
    def run_id(self) -> str:
        return str(self.run.get("runId") or self.dir.name)


def read_events(folder: Path) -> list[dict[str, Any]]:
    """The audit trail, skipping a last line cut short by a crash."""
    path = folder / "events.jsonl"
    try:
        text = path.read_text(errors="replace") if path.is_file() else ""
    except OSError:
        return []  # the trail is a courtesy; the record is the truth
    events = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            events.append(item)
    return events


def load(folder: Path) -> RunFolder:
    """The record in `folder`; `results.ResultsError` when run.json is not one."""
    from runner.journal import files

    files.read(folder / "run.json")  # the journal checks it: ResultsError naming the field
    data = results.read_json(folder / "run.json")
    return RunFolder(dir=folder, run=data, events=read_events(folder))
