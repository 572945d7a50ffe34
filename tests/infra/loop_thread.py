"""An asyncio server in a daemon thread, for sync tests: start, wait ready, stop cleanly.

Subclasses implement `_main()`: set `self.url`, call `self._ready.set()`, then await
`self._stop.wait()` and shut their server down.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Self


class LoopThread:
    """The lifecycle shared by the test servers (kube emulator, exec endpoint)."""

    def __init__(self, name: str) -> None:
        self.url = ""
        self._name = name
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{self._name} did not start in 10 s")
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as e:
            self._error = e
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        raise NotImplementedError
