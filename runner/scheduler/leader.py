"""One active scheduler among replicas: the `Leadership` contract and its local kinds.

The service asks `hold()` on every tick: True means "you are (still) the leader, run
drills"; False means "stand by". A lost leadership stops new runs at the next tick.
`FileLeader` is an exclusive `flock` on a file (replicas on one host or a shared volume);
`SoleLeader` is for a single instance. The Kubernetes Lease kind lives in `lease`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO, Protocol


class Leadership(Protocol):
    identity: str

    def hold(self) -> bool:
        """Acquire or renew; True while this instance is the leader."""
        ...

    def release(self) -> None:
        """Give leadership up at once (on shutdown), so a standby takes over quickly."""
        ...


class SoleLeader:
    """Always the leader: one scheduler, no election."""

    def __init__(self, identity: str) -> None:
        self.identity = identity

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


class FileLeader:
    """Leader while holding an exclusive, non-blocking `flock` on `path`.

    The lock belongs to the open file, so it is released when the process dies, and two
    `FileLeader`s in one process exclude each other as two processes do.
    """

    def __init__(self, path: Path, identity: str) -> None:
        self.path = path
        self.identity = identity
        self._file: IO[str] | None = None

    def hold(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(f"{self.identity} pid={os.getpid()}\n")
        f.flush()
        self._file = f
        return True

    def holder(self) -> str:
        """Who wrote the lock file last (for messages)."""
        with contextlib.suppress(OSError):
            return self.path.read_text(encoding="utf-8").strip() or "unknown"
        return "unknown"

    def release(self) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._file = None
