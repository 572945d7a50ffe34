"""The live view of a running drill: a rich panel on a terminal, timestamped lines otherwise.

It consumes the engine's events; the panel shows the phase, elapsed time, the current
step, active faults per cluster and the SLI state. Every line and every cell is a
`runner.text.line` (secrets masked, no escape sequence, no newline), and the panel's cells
are plain `rich.text.Text`, never console markup (a step named `[link=...]` stays text).
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime
from typing import IO, Any

import click

from runner.engine import events as ev
from runner.text import line as one


class LiveView:
    """Subscribe with `view.on_event`; use as a context manager around the run."""

    def __init__(self, *, stream: IO[str] | None = None, rich: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.rich = self.stream.isatty() if rich is None else rich
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.phase = "starting"
        self.step = ""
        self.faults: dict[str, list[str]] = {}
        self.sli = "-"
        self.notes: list[str] = []
        self.run_id = ""
        self._live: Any = None

    def __enter__(self) -> LiveView:
        if self.rich:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                get_renderable=self._render,
                console=Console(file=self.stream),
                refresh_per_second=4,
                transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def note(self, message: str) -> None:
        """A message from the front-end itself (e.g. a second Ctrl-C)."""
        self.on_event(ev.Notice(at=_now(), message=message))

    def on_event(self, event: ev.Event) -> None:
        with self._lock:
            line = self._apply(event)
        if line and not self.rich:
            stamp = event.at.astimezone().strftime("%H:%M:%S")
            click.echo(f"{stamp} {one(line)}", file=self.stream)

    def _apply(self, e: ev.Event) -> str:
        if isinstance(e, ev.DrillStarted):
            self.run_id = e.run_id
            targets = ", ".join(f"{k}={v}" for k, v in e.targets.items())
            return f"drill {e.scenario} started: run {e.run_id} ({targets}); record {e.record_dir}"
        if isinstance(e, ev.PhaseStarted):
            self.phase, self.step = e.phase, ""
            return f"phase {e.phase}"
        if isinstance(e, ev.PhaseFinished):
            if e.status == "succeeded":
                return ""
            return f"phase {e.phase} {e.status}" + (f": {e.error}" if e.error else "")
        if isinstance(e, ev.StepStarted):
            self.step = e.step + (f" (attempt {e.attempt})" if e.attempt > 1 else "")
            where = f" on {e.cluster}" if e.cluster else ""
            return f"  step {e.step}{where}" + (f", attempt {e.attempt}" if e.attempt > 1 else "")
        if isinstance(e, ev.StepFinished):
            if e.status == "ok":
                return f"  step {e.step} done"
            return f"  step {e.step} FAILED after {e.attempts} attempt(s): {e.error}"
        if isinstance(e, ev.FaultInjected):
            self.faults.setdefault(e.cluster, []).append(f"{e.kind} {e.name}")
            return f"  fault injected in {e.cluster}: {e.kind} {e.name}"
        if isinstance(e, ev.FaultRemoved):
            items = self.faults.get(e.cluster, [])
            if f"{e.kind} {e.name}" in items and e.error is None:
                items.remove(f"{e.kind} {e.name}")
            if e.error:
                return f"  fault {e.name} in {e.cluster} NOT removed: {e.error}"
            return f"  fault removed from {e.cluster}: {e.kind} {e.name}"
        if isinstance(e, ev.SliObserved):
            value = "no data" if e.value is None else f"{e.value:g}"
            self.sli = f"{value} ({'recovered' if e.up else 'not recovered yet'})"
            return f"  SLI {self.sli}"
        if isinstance(e, ev.GuardrailBreached):
            return f"GUARDRAIL {e.guardrail} breached: {e.value:g} at {e.breached_at.isoformat()}"
        if isinstance(e, ev.Notice):
            self.notes = [*self.notes[-2:], e.message]
            return f"! {e.message}"
        if isinstance(e, ev.DrillFinished):
            self.phase = f"finished: {e.status}"
            return f"drill finished: {e.status.upper()} ({e.reason})"
        return ""

    def active_faults(self) -> list[str]:
        with self._lock:
            return [f"{c}: {f}" for c, fs in self.faults.items() for f in fs]

    def _render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold")
            table.add_column()
            faults = [one(f"{c}: {f}") for c, fs in self.faults.items() for f in fs]
            rows = [
                ("run", one(self.run_id)),
                ("phase", one(self.phase)),
                ("elapsed", f"{time.monotonic() - self._started:.0f}s"),
                ("step", one(self.step or "-")),
                ("faults", "\n".join(faults) or "none active"),
                ("SLI", one(self.sli)),
                *(("note", one(note)) for note in self.notes),
            ]
            for name, value in rows:
                table.add_row(Text(name), Text(value))
            return table


def _now() -> datetime:
    from runner.clock import SystemClock

    return SystemClock().now()
