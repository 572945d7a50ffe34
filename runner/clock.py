"""Time as a dependency: the runner never calls time.sleep or now() in its logic.

`SystemClock` is the real one. `FakeClock` advances instantly, so a ten-minute
drill runs in milliseconds in tests. Waits are interruptible through a
`threading.Event`, which is how an abort reaches a waiting drill.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

Cancel = Callable[[], None]


class Clock(Protocol):
    """What the runner needs from time."""

    def now(self) -> datetime:
        """The current instant, aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, for elapsed times and deadlines."""
        ...

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        """Wait up to `seconds`; return True if `cancel` was set (and stop waiting at once)."""
        ...

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Cancel:
        """Call `fn` once, `seconds` from now, unless the returned function is called first.

        It runs on a timer thread of its own (system clock), or in whichever thread moves the
        fake clock past that instant (fake clock), so `fn` must be thread-safe."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        if cancel is None:
            time.sleep(max(0.0, seconds))
            return False
        return cancel.wait(max(0.0, seconds))

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Cancel:
        timer = threading.Timer(max(0.0, seconds), fn)
        timer.daemon = True
        timer.start()
        return timer.cancel


class FakeClock:
    """A clock that jumps forward when slept on; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cancelled: set[int] = set()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move time forward; timers due on the way fire at their instant, in order."""
        with self._lock:
            target = self._mono + seconds
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > target:
                    if target > self._mono:
                        self._now += timedelta(seconds=target - self._mono)
                        self._mono = target
                    return
                due, seq, fn = heapq.heappop(self._due)
                if due > self._mono:
                    self._now += timedelta(seconds=due - self._mono)
                    self._mono = due
                skip = seq in self._cancelled
                self._cancelled.discard(seq)
            if not skip:
                fn()  # outside the lock: it may read or sleep on this clock

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Cancel:
        with self._lock:
            seq = next(self._seq)
            heapq.heappush(self._due, (self._mono + max(0.0, seconds), seq, fn))

        def cancel() -> None:
            with self._lock:
                self._cancelled.add(seq)

        return cancel

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        if cancel is not None and cancel.is_set():
            return True
        self.advance(max(0.0, seconds))
        return cancel.is_set() if cancel is not None else False
