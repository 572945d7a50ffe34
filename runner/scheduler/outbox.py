"""Delivering notifications off the firing path: one queue and one sender thread per webhook.

A drill never waits for a webhook: an event's messages are queued and the firing goes
on. Each destination (a drill's notification) has its own queue, so messages reach it in
order, and a webhook that hangs or refuses delays only its own messages. A message is
tried until it is delivered, its attempts are used up or its deadline passes, whichever
comes first; each attempt's timeout is cut to what is left of the deadline. `close()`
gives the queues one shared, bounded drain time and then leaves: a shutdown is never
held up by a webhook. Waits use the injected clock.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from runner.clock import Clock
from runner.errors import ConfigurationError

log = logging.getLogger(__name__)

Post = Callable[[str, bytes, float], int]
"""Send a JSON body to a URL; the HTTP status, or an OSError when nothing came back."""


@dataclass(frozen=True, kw_only=True)
class NotifySettings:
    timeout_seconds: float = 10.0
    """One attempt."""
    attempts: int = 3
    backoff_seconds: tuple[float, ...] = (2.0, 10.0)
    """Waits between attempts (the last value repeats)."""
    deadline_seconds: float = 60.0
    """One message, from when it is queued, all attempts included; then it is dropped."""
    queue_size: int = 100
    """Messages waiting per destination; beyond, the oldest is dropped."""
    drain_seconds: float = 10.0
    """On shutdown: how long queued messages may still take, all destinations together."""


@dataclass(frozen=True, kw_only=True)
class Message:
    what: str
    """e.g. "drill nightly, notification 'chat'": for logs (never the URL)."""
    url: Callable[[], str]
    """Reads the URL when the message is sent; raises ConfigurationError naming its source."""
    body: bytes
    kind: str
    queued_at: float
    """Monotonic seconds."""


class Outbox:
    """One destination's queue and sender thread."""

    def __init__(self, name: str, *, post: Post, clock: Clock, settings: NotifySettings) -> None:
        self.post, self.clock, self.settings = post, clock, settings
        self._queue: collections.deque[Message] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._busy = False
        self._cutoff: float | None = None
        """Monotonic deadline of the drain, once closing."""
        self._cancel = threading.Event()
        """Set when the drain time is over: backoff waits end at once."""
        self._thread = threading.Thread(target=self._loop, name=f"notify-{name}", daemon=True)
        self._thread.start()

    def put(self, message: Message) -> None:
        with self._cond:
            if self._closing:
                log.warning("%s not sent (%s): shutting down", message.what, message.kind)
                return
            if len(self._queue) >= self.settings.queue_size:
                dropped = self._queue.popleft()
                log.error("%s: queue full, dropped a %s message", dropped.what, dropped.kind)
            self._queue.append(message)
            self._cond.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to `timeout` until nothing is queued or being sent."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, cutoff: float) -> None:
        """Stop taking messages; deliver what is queued until `cutoff` (monotonic)."""
        with self._cond:
            self._closing = True
            self._cutoff = cutoff
            self._cond.notify()

    def cancel(self) -> None:
        """The drain time is over: give up what is left."""
        with self._cond:
            left = len(self._queue) + int(self._busy)
            self._queue.clear()
            self._cancel.set()
            self._cond.notify()
        if left:
            log.error("%d notification message(s) not delivered before shutdown", left)

    def join(self, timeout: float) -> bool:
        self._thread.join(max(0.0, timeout))
        return not self._thread.is_alive()

    # ------------------------------------------------------------------ the thread

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                message = self._queue.popleft()
                self._busy = True
            try:
                self._deliver(message)
            except Exception as e:  # never let one message kill the destination's thread
                log.error("%s: delivery failed: %s", message.what, type(e).__name__)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deadline(self, message: Message) -> float:
        deadline = message.queued_at + self.settings.deadline_seconds
        with self._cond:
            return deadline if self._cutoff is None else min(deadline, self._cutoff)

    def _deliver(self, message: Message) -> bool:
        try:
            url = message.url()
        except ConfigurationError as e:  # names the variable or file, never a value
            log.error("%s not sent: %s", message.what, e)
            return False
        if not url.lower().startswith(("https://", "http://")):
            log.error("%s not sent: its URL is not http(s)", message.what)
            return False
        attempts = max(1, self.settings.attempts)
        waits = self.settings.backoff_seconds or (0.0,)
        for attempt in range(1, attempts + 1):
            left = self._deadline(message) - self.clock.monotonic()
            if left <= 0 or self._cancel.is_set():
                break
            try:
                status = self.post(url, message.body, min(self.settings.timeout_seconds, left))
                problem = "" if 200 <= status < 300 else f"HTTP {status}"
            except (OSError, ValueError) as e:
                problem = _error_name(e)
            if not problem:
                log.info("%s sent (%s)", message.what, message.kind)
                return True
            log.warning("%s: attempt #%d/%d failed: %s", message.what, attempt, attempts, problem)
            if attempt == attempts:
                break
            wait = waits[min(attempt - 1, len(waits) - 1)]
            if self.clock.monotonic() + wait >= self._deadline(message):
                break
            if self.clock.sleep(wait, self._cancel):
                break
        log.error(
            "%s not delivered (%s): %s",
            message.what,
            message.kind,
            f"gave up after {attempt} attempt(s) within its time bound"
            if attempt < attempts
            else f"{attempts} attempts failed",
        )
        return False


def _error_name(e: BaseException) -> str:
    """The error's type (and its cause's): their messages may quote the URL."""
    reason = getattr(e, "reason", None)
    if isinstance(reason, BaseException):
        return f"{type(e).__name__} ({type(reason).__name__})"
    return type(e).__name__


class Outboxes:
    """The outboxes by destination, created on first use; closed together with one bound."""

    def __init__(self, *, post: Post, clock: Clock, settings: NotifySettings) -> None:
        self.post, self.clock, self.settings = post, clock, settings
        self._boxes: dict[tuple[str, str], Outbox] = {}
        self._lock = threading.Lock()
        self._closed = False

    def put(self, destination: tuple[str, str], message: Message) -> None:
        with self._lock:
            if self._closed:
                log.warning("%s not sent (%s): shutting down", message.what, message.kind)
                return
            box = self._boxes.get(destination)
            if box is None:
                box = Outbox(
                    "/".join(destination), post=self.post, clock=self.clock, settings=self.settings
                )
                self._boxes[destination] = box
        box.put(message)

    def flush(self, timeout: float) -> bool:
        """Wait (up to `timeout` per destination) until every queue is empty."""
        with self._lock:
            boxes = list(self._boxes.values())
        return all(box.wait_idle(timeout) for box in boxes)

    def close(self, timeout: float | None = None) -> bool:
        """Deliver what is queued within `timeout` (default: the drain time), then give up.

        True when everything queued went out (or was given up on its own) in time.
        """
        limit = self.settings.drain_seconds if timeout is None else timeout
        cutoff = self.clock.monotonic() + limit
        with self._lock:
            self._closed = True
            boxes = list(self._boxes.values())
        for box in boxes:
            box.close(cutoff)
        done = True
        for box in boxes:
            if not box.join(cutoff - self.clock.monotonic()):
                done = False
        if not done:
            for box in boxes:
                box.cancel()
        return done
