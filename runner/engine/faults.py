"""A run's faults from intent to removal: the ledger entry before each is created, the
journal entry once it is, the moment the measurements start from, the timer that removes
it when its window ends, and removal on the way back.

Removal never depends on a record write: writes never raise (`JournalWriter`), and a
removal that fails is retried by cleanup. A window's timer and the way back never remove
the same fault twice (`_removal`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from runner.backends import InjectedFault
from runner.engine import events as ev
from runner.engine.context import DrillContext
from runner.errors import DrillError
from runner.journal.entries import FaultEntry
from runner.measure.timebase import canonical
from runner.scenario import model
from runner.scenario.values import parse_duration


class FaultLifecycle:
    """The faults one run injected, and what became of each."""

    def __init__(self, ctx: DrillContext) -> None:
        self.ctx = ctx
        self._injected: list[tuple[InjectedFault, int]] = []
        """Each fault created, with its index in the journal's faults."""
        self._removed: set[int] = set()
        self._removal = threading.RLock()
        """Held while a fault is removed: by a window's end (timer) or the way back."""
        self._windows: list[Callable[[], None]] = []
        """Cancels of the timers that remove each fault when its window ends."""

    @property
    def left(self) -> tuple[str, ...]:
        """`cluster/name` of the faults injected and not removed."""
        return tuple(f"{h.cluster}/{h.name}" for h, i in self._injected if i not in self._removed)

    def inject(self) -> None:
        """Inject the scenario's faults, each after its `startAfter`."""
        ctx = self.ctx
        start = ctx.clock.monotonic()
        for fault in sorted(ctx.scenario.spec.faults, key=lambda f: f.start_after):
            delay = fault.start_after.total_seconds() - (ctx.clock.monotonic() - start)
            if delay > 0:
                ctx.wait(delay)
            ctx.check()
            backend = ctx.targets[fault.cluster]
            if fault.name == ctx.scenario.start_fault() and not ctx.timeline.fault_requested:
                ctx.mark(fault_requested=canonical(ctx.clock.now()))
            intent = {"intent": "create", "fault": fault.name, "cluster": fault.cluster}
            if not ctx.record.ledger(intent):
                ctx.check()  # raises RecordWriteError: never inject an unrecorded intent
            handles = backend.faults.inject(fault, ctx.run, self._created)
            for handle in handles:
                self._confirmed(handle)
                self._end_window_later(fault, handle)

    def mark_test_fault_start(self) -> None:
        """A test failover injects nothing: the moment the fault would have started is the
        fault start of its measurements (`RPO = fault start - backup`: had the site been
        lost now)."""
        ctx = self.ctx
        now = canonical(ctx.clock.now())
        ctx.mark(fault_requested=now, fault_start=now)
        for note in ctx.scenario.expansion.notes:
            if note.what == "not injected":
                ctx.notice(f"test failover: fault {note.step!r} not injected")

    def stop_windows(self) -> None:
        """The way back starts: from here on it removes every fault, not the windows' timers."""
        with self._removal:
            self.ctx.backward_started = True
            for cancel in self._windows:
                cancel()

    def remove_all(self) -> None:
        """Remove every fault not removed yet, newest first; DrillError naming those that stay."""
        errors = []
        with self._removal:
            for handle, index in reversed(self._injected):
                if index in self._removed:
                    continue
                try:
                    self._remove_one(handle, index)
                except DrillError as e:
                    errors.append(f"{handle.cluster}/{handle.name}: {e}")
        if errors:
            raise DrillError("faults could not be removed: " + "; ".join(errors))

    # ------------------------------------------------------------------ injection

    def _created(self, handle: InjectedFault) -> None:
        ctx = self.ctx
        index = ctx.record.append("faults", _entry(handle))
        self._injected.append((handle, index))
        ctx.record.ledger({"created": handle.to_json()})
        ctx.audit("fault.create", {"fault": handle.fault, "kind": handle.kind}, handle.cluster)

    def _confirmed(self, handle: InjectedFault) -> None:
        ctx = self.ctx
        for i, (known, index) in enumerate(self._injected):
            if (known.cluster, known.kind, known.name) == (
                handle.cluster,
                handle.kind,
                handle.name,
            ):
                self._injected[i] = (handle, index)
                ctx.record.patch("faults", index, injected_at=handle.injected_at)
        ctx.audit("fault.injected", {"fault": handle.fault, "name": handle.name}, handle.cluster)
        ctx.emit(
            ev.FaultInjected,
            cluster=handle.cluster,
            fault=handle.fault,
            kind=handle.kind,
            name=handle.name,
        )
        if handle.fault == ctx.scenario.start_fault() and not ctx.timeline.fault_start:
            ctx.mark(fault_start=canonical(handle.injected_at or ctx.clock.now()))

    # ------------------------------------------------------------------ windows and removal

    def _end_window_later(self, fault: model.Fault, handle: InjectedFault) -> None:
        """Remove the fault when its window (its duration, from confirmed injection) ends,
        whatever phase the run is in; Chaos Mesh's own duration is only the safety net."""
        seconds = window_seconds(fault)
        if seconds is None:
            return
        self._windows.append(self.ctx.clock.call_later(seconds, lambda: self._window_ended(handle)))

    def _window_ended(self, handle: InjectedFault) -> None:
        with self._removal:
            if self.ctx.backward_started:
                return  # the way back removes it now
            index = next(
                (
                    i
                    for h, i in self._injected
                    if (h.cluster, h.name) == (handle.cluster, handle.name)
                ),
                None,
            )
            if index is None or index in self._removed:
                return
            self.ctx.audit(
                "fault.window-ended", {"fault": handle.fault, "name": handle.name}, handle.cluster
            )
            try:
                self._remove_one(handle, index)
            except DrillError as e:  # the way back tries again
                self.ctx.notice(
                    f"fault {handle.fault!r}: removal at the end of its window failed: {e}"
                )

    def _remove_one(self, handle: InjectedFault, index: int) -> None:
        """Remove one fault and record it; DrillError (also for a bug) when it stays."""
        ctx = self.ctx
        error: DrillError | None = None
        try:
            ctx.targets[handle.cluster].faults.remove(handle, ctx.run)
        except Exception as e:  # a bug in one removal must not keep the others
            error = e if isinstance(e, DrillError) else DrillError(f"{type(e).__name__}: {e}")
        if error is None:
            self._removed.add(index)
            ctx.record.patch("faults", index, recovered_at=ctx.clock.now())
            ctx.record.ledger({"removed": handle.to_json()})
            ctx.audit("fault.remove", {"fault": handle.fault, "name": handle.name}, handle.cluster)
        ctx.emit(
            ev.FaultRemoved,
            cluster=handle.cluster,
            fault=handle.fault,
            kind=handle.kind,
            name=handle.name,
            error=None if error is None else str(error),
        )
        if error is not None:
            raise error


def window_seconds(fault: model.Fault) -> float | None:
    """How long a fault lasts from its confirmed injection: its `duration`, or for a pasted
    Chaos Mesh manifest without one, the manifest's own `spec.duration`; None if unknown."""
    if fault.duration is not None:
        return fault.duration.total_seconds()
    if isinstance(fault, model.ChaosMeshFault):
        spec = fault.manifest.get("spec")
        text = spec.get("duration") if isinstance(spec, dict) else None
        try:
            return parse_duration(text).total_seconds()
        except ValueError:
            return None
    return None


def _entry(handle: InjectedFault) -> FaultEntry:
    return FaultEntry(
        cluster=handle.cluster,
        fault=handle.fault,
        kind=handle.kind,
        name=handle.name,
        namespace=handle.namespace,
        injected_at=handle.injected_at,
        one_shot=handle.one_shot,
    )
