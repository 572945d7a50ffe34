"""The run record, written as the run goes so a crash still leaves a readable partial record.

`run.json` is rewritten atomically (temp file + rename) on every change; `events.jsonl` is
append-only, one JSON object a line; `ledger.jsonl` holds the intent to create each fault
before it is created, so a crashed run can be swept up from its folder as well as by labels.
The schema is versioned (`schemaVersion`) and documented in docs/run-record.md.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RUN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
_SECRET_KEYS = re.compile(r"(token|password|secret|authorization|credential)", re.IGNORECASE)


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def redact(value: Any) -> Any:
    """Drop the values of keys that look like credentials, recursively."""
    if isinstance(value, Mapping):
        return {
            k: ("<redacted>" if _SECRET_KEYS.search(str(k)) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class RunRecord:
    """One run's folder. Thread-safe: the guardrail watcher writes events too."""

    def __init__(self, results_dir: Path, run_id: str, initial: Mapping[str, Any]) -> None:
        if not RUN_ID_RE.match(run_id):
            raise ValueError(f"bad run id {run_id!r}")
        self.dir = results_dir / run_id
        self.dir.mkdir(parents=True, exist_ok=False)
        self._lock = threading.RLock()
        self.data: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION, "runId": run_id}
        self.data.update(initial)
        self.save()

    @property
    def run_json(self) -> Path:
        return self.dir / "run.json"

    def save(self) -> None:
        with self._lock:
            tmp = self.dir / "run.json.tmp"
            tmp.write_text(json.dumps(redact(self.data), indent=2, default=str) + "\n")
            os.replace(tmp, self.run_json)

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.data.update(fields)
            self.save()

    def append(self, key: str, item: Mapping[str, Any]) -> int:
        """Append to a list field; returns the item's index."""
        with self._lock:
            items = self.data.setdefault(key, [])
            items.append(dict(item))
            self.save()
            return len(items) - 1

    def patch_item(self, key: str, index: int, **fields: Any) -> None:
        with self._lock:
            self.data[key][index].update(fields)
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
        line = {"time": at.isoformat(), "actor": actor, "action": action, "target": target}
        if details:
            line["details"] = redact(dict(details))
        with self._lock, (self.dir / "events.jsonl").open("a") as f:
            f.write(json.dumps(line, default=str) + "\n")

    def ledger(self, entry: Mapping[str, Any]) -> None:
        """Write a fault intent or outcome to the ledger, flushed to disk before acting."""
        with self._lock, (self.dir / "ledger.jsonl").open("a") as f:
            f.write(json.dumps(redact(dict(entry)), default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())


def read_run(results_dir: Path, run_id: str) -> dict[str, Any]:
    path = results_dir / run_id / "run.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def list_runs(results_dir: Path) -> list[dict[str, Any]]:
    """Every readable run.json under results_dir, oldest first."""
    runs = []
    if results_dir.is_dir():
        for path in results_dir.glob("*/run.json"):
            try:
                runs.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
    return sorted(runs, key=lambda r: str(r.get("startedAt") or ""))


def read_ledger(results_dir: Path, run_id: str) -> list[dict[str, Any]]:
    path = results_dir / run_id / "ledger.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash
    return out
