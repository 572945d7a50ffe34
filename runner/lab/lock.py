"""One drill per lab site: an atomic lock file holding the run id, pid (with its start time)
and since."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from runner import processes
from runner.backends import LockHolder, RunContext
from runner.errors import LockHeldError
from runner.lab.state import write_json_atomic


class SiteLock:
    """`D/locks/<site>.lock`, created with O_EXCL; a holder whose pid is dead is stale."""

    def __init__(self, target: str, path: Path) -> None:
        self.target, self.path = target, path

    def _read(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
            return data
        except (FileNotFoundError, ValueError):
            return None

    def acquire(self, run: RunContext) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "runId": run.run_id,
            "pid": os.getpid(),
            "pidStart": processes.start_time(os.getpid()),
            "since": run.clock.now().isoformat(),
        }
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)  # atomic: fails if the lock exists, never half-written
                    return
                except FileExistsError:
                    pass
                held = self._read()
                if held is None or not _alive(held):
                    self._break_stale(held)
                    continue
                if held.get("runId") == run.run_id and held.get("pid") == os.getpid():
                    return
                raise LockHeldError(self.target, str(held.get("runId")), str(held.get("since")))
            raise LockHeldError(self.target, "unknown (the lock file keeps changing)", "?")
        finally:
            tmp.unlink(missing_ok=True)

    def _break_stale(self, held: dict[str, Any] | None) -> None:
        """Remove a stale lock, but only if it is still the one we judged stale."""
        aside = self.path.with_name(f"{self.path.name}.stale.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path, aside)
            if json.loads(aside.read_text() or "null") != held:
                with contextlib.suppress(FileExistsError):
                    os.link(aside, self.path)
            aside.unlink()

    def renew(self, run: RunContext) -> None:
        held = self._read()
        if held is None or held.get("runId") != run.run_id:
            raise LockHeldError(self.target, str(held and held.get("runId")), "lost")
        held["renewedAt"] = run.clock.now().isoformat()
        write_json_atomic(self.path, held)

    def release(self, run: RunContext) -> None:
        held = self._read()
        if held is not None and held.get("runId") == run.run_id:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def force_unlock(self) -> str | None:
        """Remove the lock file whoever holds it; returns the run id it held."""
        held = self._read()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return None if held is None else str(held.get("runId"))

    def holder(self) -> LockHolder | None:
        """The run holding the site; expired when its process is gone (the lab is local)."""
        held = self._read()
        if held is None:
            return None
        return LockHolder(
            run_id=str(held.get("runId")),
            since=str(held.get("since")),
            expired=not _alive(held),
            detail=f"process {held.get('pid')} on this host",
        )

    def release_dead(self, run_id: str) -> bool:
        """Remove the lock file if `run_id` still holds it (atomically, as a stale break)."""
        held = self._read()
        if held is None or held.get("runId") != run_id:
            return False
        self._break_stale(held)
        return self._read() != held


def _alive(held: dict[str, Any]) -> bool:
    """The lock's process is still the one that took it (a reused pid is not)."""
    try:
        pid = int(held.get("pid") or 0)
    except (TypeError, ValueError):
        return False
    started = held.get("pidStart")
    return processes.alive(pid, started if isinstance(started, int) else None)
