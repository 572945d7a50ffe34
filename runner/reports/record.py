"""Finding and reading one run folder for a report: run.json and the events.jsonl audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import UsageError


@dataclass(frozen=True)
class RunFolder:
    """A run record as a report sees it."""

    dir: Path
    run: dict[str, Any]
    events: list[dict[str, Any]]

    @property
    def run_id(self) -> str:
        return str(self.run.get("runId") or self.dir.name)


def locate(run: str, results_dir: Path) -> Path:
    """The folder of RUN: a folder holding run.json, else a run id under results_dir."""
    path = Path(run)
    if (path / "run.json").is_file():
        return path
    if "/" not in run and (results_dir / run / "run.json").is_file():
        return results_dir / run
    raise UsageError(f"no run {run!r} in {results_dir} (and {run!r} is not a run folder)")


def read_events(folder: Path) -> list[dict[str, Any]]:
    """The audit trail, skipping a last line cut short by a crash."""
    path = folder / "events.jsonl"
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            events.append(item)
    return events


def load(folder: Path) -> RunFolder:
    try:
        data = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {folder / 'run.json'}: {e}") from e
    if not isinstance(data, dict):
        raise UsageError(f"{folder / 'run.json'} is not a run record")
    return RunFolder(dir=folder, run=data, events=read_events(folder))
