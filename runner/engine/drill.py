"""The drill orchestrator: the phases in order, with fault removal and cleanup on every path.

preflight → steady-state (gate) → baseline → inject → observe → failover → verify →
recover-faults → failback (per policy) → post-steady-state → cleanup (always) → report.

This module owns the phase machine: which phase runs when, and what ends the run. What the
phases do lives with what it is about: `faults` (inject, windows, removal), `steps`
(running steps), `verification` (steady state, RTO/RPO, ground truth),
`failback_verification` (failback as a second measured recovery); `context` is what they
share (the journal writer, the checkpoint every wait goes through) and `phases` records
each phase the same way.

A scenario loaded for a test failover (`Scenario.test_failover`) injects nothing: the
inject phase only marks the moment the fault would have started, the steps are the ones
the loader kept or redirected, and only measurements between recorded instants are made
(the SLI of a service nobody took down proves nothing). Values `capture` steps read fill
the run-time placeholders of later steps (`${{ captured.x }}`) and the span measurements.

The backward phases (recover faults, failback per policy, cleanup) never depend on a record
write: a write that fails (disk full, read-only) stops the forward phases at the next
checkpoint, the backward ones run regardless, and the run ends `error` with the failed
writes in `RunResult.record_failures`.

The verdict is data (`RunResult.status`), never an exception. An abort (Ctrl-C, SIGTERM,
`drillctl abort`, a guardrail breach) is the cancel event being set: every wait returns
early, the current phase stops, and the run goes straight to removing faults, failback
per policy and cleanup.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import __version__, processes, redact
from runner.backends import RunContext, StepExecutor, TargetBackend
from runner.clock import Clock
from runner.engine import events as ev
from runner.engine.context import UNWRITTEN, AbortSignal, DrillContext
from runner.engine.failback_verification import FailbackVerification
from runner.engine.faults import FaultLifecycle
from runner.engine.metrics import Metrics
from runner.engine.phases import StopRun, phase
from runner.engine.steps import StepRunner
from runner.engine.verdict import Status, decide
from runner.engine.verification import Verification
from runner.errors import AbortRequested, DrillError
from runner.evidence import exercise, inputs
from runner.journal.entries import PhaseName
from runner.journal.framing import RunMode, TestFailoverNote
from runner.journal.run import Ref, Run
from runner.journal.writer import JournalWriter
from runner.measure.timebase import canonical
from runner.records.store import RecordWriteError
from runner.reports.junit import junit_xml
from runner.scenario import model

__all__ = ["AbortSignal", "DrillRun", "RunResult", "new_run_id"]

P = PhaseName


@dataclass(frozen=True, kw_only=True)
class RunResult:
    run_id: str
    status: Status
    reason: str
    record_dir: Path
    record: Run
    record_failures: tuple[str, ...] = ()
    """Writes of the record that failed (`file: cause`); the record on disk is incomplete."""
    faults_left: tuple[str, ...] = ()
    """`cluster/name` of injected faults that could not be removed."""
    locks_held: tuple[str, ...] = ()
    """Targets whose lock could not be released."""


@dataclass
class _Outcome:
    """What the phases found that the end of the run needs."""

    post_ok: bool | None = None
    """Whether steady state held after failback (None: not checked)."""


@dataclass(kw_only=True)
class DrillRun:
    """One run of one scenario against bound targets."""

    scenario: model.Scenario
    scenario_path: Path
    drill: model.Drill
    drill_path: Path
    targets: Mapping[str, TargetBackend]
    metrics: Metrics | None
    generic_steps: StepExecutor
    clock: Clock
    results_dir: Path
    run_id: str
    operator: str
    abort: AbortSignal = field(default_factory=AbortSignal)
    on_event: ev.EventSink = lambda e: None
    interactive: bool = False
    approve_manual: bool = False
    manual_failback: Callable[[], bool] | None = None
    """Asks the operator whether to fail back (policy `manual`); None: not interactive."""
    approvals: tuple[Mapping[str, Any], ...] = ()
    """Approvals given before the run (protected targets confirmed by name), journaled."""

    def __post_init__(self) -> None:
        self._unreleased: list[str] = []
        self.run = RunContext(
            run_id=self.run_id,
            scenario=self.scenario.name,
            drill=self.drill.name,
            operator=self.operator,
            clock=self.clock,
            cancel=self.abort.event,
            log=lambda action, details: self.ctx.audit(action, details),
            interactive=self.interactive,
            approve_manual=self.approve_manual,
            inject_timeout_seconds=self.scenario.spec.timeouts.inject.total_seconds(),
            remove_timeout_seconds=self.scenario.spec.timeouts.remove.total_seconds(),
        )

    # ------------------------------------------------------------------ public

    def execute(self) -> RunResult:
        self._open()
        ctx = self.ctx
        ctx.emit(
            ev.DrillStarted,
            run_id=self.run_id,
            scenario=self.scenario.name,
            drill=self.drill.name,
            record_dir=str(ctx.record.dir),
            targets={n: t.description for n, t in self.targets.items()},
        )
        ctx.record.set(
            inputs=inputs.snapshot(
                ctx.record, self.scenario, self.scenario_path, self.drill, self.drill_path
            )
        )
        ctx.audit("drill.start", {"scenario": self.scenario.name, "drill": self.drill.name})
        for approval in self.approvals:
            ctx.audit(exercise.APPROVAL, approval)
        outcome = _Outcome()
        try:
            self._forward()
        except StopRun:
            pass
        except AbortRequested as e:
            ctx.hint(Status.ABORTED, e.reason)
        except DrillError as e:
            ctx.hint(Status.ERROR, f"{ctx.phase}: {e}")
        except BaseException as e:  # KeyboardInterrupt or a bug: still clean up below
            ctx.hint(Status.ERROR, f"{ctx.phase}: {type(e).__name__}: {e}")
            ctx.notice(f"{ctx.phase}: unexpected {type(e).__name__}; cleaning up")
            self._backward(outcome)
            raise
        self._backward(outcome)
        return self._finish(outcome)

    def _open(self) -> None:
        """Create the run's journal (RecordWriteError before anything is touched) and the
        parts of the engine that write to it."""
        short = self.run_id[-20:] if len(self.run_id) > 20 else self.run_id
        self.ctx = DrillContext(
            scenario=self.scenario,
            targets=self.targets,
            metrics=self.metrics,
            clock=self.clock,
            abort=self.abort,
            on_event=self.on_event,
            operator=self.operator,
            run=self.run,
            record=JournalWriter(self.results_dir, self._first_entry()),
            values={"run.id": self.run_id, "run.short": short},
        )
        self.faults = FaultLifecycle(self.ctx)
        self.steps = StepRunner(self.ctx, self.generic_steps)
        self.verification = Verification(self.ctx)
        self.failback = FailbackVerification(self.ctx, self.verification)

    def _first_entry(self) -> Run:
        spec = self.scenario.spec
        notes = self.scenario.expansion.notes
        return Run(
            run_id=self.run_id,
            scenario=Ref(name=self.scenario.name, path=str(self.scenario_path)),
            drill=Ref(name=self.drill.name, path=str(self.drill_path)),
            operator=self.operator,
            started_at=self.clock.now(),
            pid=os.getpid(),
            process_start=processes.start_time(os.getpid()),
            host=socket.gethostname(),
            runner_version=__version__,
            targets={n: t.description for n, t in self.targets.items()},
            objectives=spec.objectives.model_dump(mode="json", by_alias=True),
            mode=RunMode.TEST_FAILOVER if self.scenario.test_failover else RunMode.DRILL,
            test_failover=tuple(
                TestFailoverNote(phase=n.phase, step=n.step, what=n.what, reason=n.reason)
                for n in notes
            )
            if self.scenario.test_failover
            else (),
            exercise=exercise.metadata(
                spec.exercise,
                self.drill.spec.exercise,
                run_id=self.run_id,
                scenario_name=self.scenario.name,
                day=self.clock.now().date().isoformat(),
            ),
            exercise_recorded=True,
        )

    # ------------------------------------------------------------------ forward phases

    def _forward(self) -> None:
        ctx, spec = self.ctx, self.scenario.spec
        with phase(ctx, P.PREFLIGHT):
            self._preflight()
        with phase(ctx, P.STEADY_STATE):
            if not self.verification.gate():
                ctx.hint(
                    Status.ABORTED, "steady state did not hold before injection; nothing injected"
                )
                raise StopRun
        if self.scenario.steps_of("baseline"):
            with phase(ctx, P.BASELINE):
                self.steps.run("baseline", self.scenario.steps_of("baseline"))
        with phase(ctx, P.INJECT):
            if self.scenario.test_failover:
                self.faults.mark_test_fault_start()
            else:
                self.faults.inject()
        ctx.guard_checked = ctx.fault_start()
        with phase(ctx, P.OBSERVE):
            ctx.wait(spec.timeouts.observe.total_seconds())
        with phase(ctx, P.FAILOVER):
            ctx.mark(failover_started=canonical(self.clock.now()))
            self.steps.run("failover", self.scenario.steps_of("failover"))
            ctx.mark(failover_done=canonical(self.clock.now()))
        with phase(ctx, P.VERIFY):
            if not self.scenario.test_failover:
                self.verification.verify()
            self.verification.measure_spans()

    def _preflight(self) -> None:
        ctx = self.ctx
        missing: list[str] = []
        notes: dict[str, list[str]] = {}
        for name in self.scenario.cluster_names:
            report = self.targets[name].preflight(self.scenario, self.run)
            missing += [f"{name}: {m}" for m in report.missing]
            if report.notes:
                notes[name] = list(report.notes)
            for note in report.notes:
                ctx.notice(f"preflight {name}: {note}")
        check = getattr(self.generic_steps, "preflight", None)
        if callable(check):  # generic steps that talk to a system (global DNS)
            missing += [str(m) for m in check(self.scenario)]
        ctx.record.set(preflight={"missing": missing, "notes": notes})
        if missing:
            raise DrillError("preflight found problems:\n  " + "\n  ".join(missing))
        for name in self.scenario.cluster_names:
            self.targets[name].lock.acquire(self.run)
            ctx.locked.append(name)
            ctx.audit("lock.acquire", {}, name)
        if self.metrics is not None:
            ctx.record.set(step_seconds=self.metrics.step_seconds())

    # ------------------------------------------------------------------ the way back

    def _backward(self, outcome: _Outcome) -> None:
        """Remove faults, fail back per policy, check steady state, clean up. Never raises;
        nothing here depends on a record write succeeding (writes never raise)."""
        ctx = self.ctx
        self.faults.stop_windows()  # from here on, the way back removes every fault
        ctx.guard_checked = None  # guardrails are watched until the faults are removed
        if self.abort.event.is_set():
            ctx.hint(Status.ABORTED, self.abort.reason or "aborted")
            ctx.notice(f"aborting: {self.abort.reason}; removing faults and cleaning up")
        self.abort.event.clear()  # the cleanup must be able to wait
        try:
            with phase(ctx, P.RECOVER_FAULTS, backward=True):
                self.faults.remove_all()
        except StopRun:
            pass
        if self._failback_allowed():
            try:
                with phase(ctx, P.FAILBACK, backward=True):
                    ctx.mark(failback_started=canonical(self.clock.now()))
                    self.steps.run("failback", self.scenario.steps_of("failback"))
                    ctx.mark(failback_done=canonical(self.clock.now()))
                with phase(ctx, P.POST_STEADY_STATE, backward=True):
                    outcome.post_ok = self.verification.steady_state("after", wait_window=True)
                    self.failback.verify()
            except StopRun:
                pass
        elif ctx.timeline.fault_start:
            self.failback.not_measured("failback did not run")
        with phase(ctx, P.CLEANUP, backward=True):
            self._cleanup()

    def _failback_allowed(self) -> bool:
        policy = self.scenario.spec.failback.policy
        if not self.scenario.spec.failback.steps or policy == model.FailbackPolicy.NEVER:
            return False
        if not self.ctx.timeline.fault_start:
            return False  # nothing was injected, so nothing failed over
        if policy == model.FailbackPolicy.ALWAYS:
            return True
        if policy == model.FailbackPolicy.MANUAL:
            if self.manual_failback is None:
                self.ctx.notice(
                    "failback policy is manual and this run is not interactive: skipped"
                )
                return False
            return self.manual_failback()
        # on-success: only when the drill has met everything so far
        status, _ = decide(
            hint=self.ctx.status_hint, measurements=self.ctx.measurements, post_ok=None
        )
        return status == Status.PASSED

    def _cleanup(self) -> None:
        """Remove what is left (again) and release every lock, whatever fails."""
        ctx = self.ctx
        problems = []
        try:
            self.faults.remove_all()  # anything the recover phase could not remove: try again
        except DrillError as e:
            problems.append(str(e))
        for name in reversed(ctx.locked):
            try:
                self.targets[name].lock.release(self.run)
                ctx.audit("lock.release", {}, name)
            except Exception as e:  # every lock is released whatever the others do
                self._unreleased.append(name)
                problems.append(f"{name}: lock not released: {type(e).__name__}: {e}")
        ctx.locked.clear()
        if problems:
            raise DrillError("; ".join(problems))

    # ------------------------------------------------------------------ the end

    def _finish(self, outcome: _Outcome) -> RunResult:
        ctx = self.ctx
        with phase(ctx, P.REPORT, backward=True):
            status, reason = self._verdict(outcome)
        if self.scenario.test_failover:
            reason = self._test_failover_reason(reason)
            ctx.record.set(reason=reason)
        ctx.audit("drill.finish", {"status": status.value, "reason": reason})
        record = ctx.record.snapshot()
        m = record.measurements
        ctx.emit(
            ev.DrillFinished,
            status=status.value,
            reason=reason,
            record_dir=str(ctx.record.dir),
            rto_seconds=None if m.rto is None else m.rto.seconds,
            rpo_seconds=None if m.rpo is None else m.rpo.seconds,
        )
        return RunResult(
            run_id=self.run_id,
            status=status,
            reason=redact.text(reason),
            record_dir=ctx.record.dir,
            record=record,
            record_failures=tuple(ctx.record.failures),
            faults_left=self.faults.left,
            locks_held=tuple(self._unreleased),
        )

    def _verdict(self, outcome: _Outcome) -> tuple[Status, str]:
        """Decide, record the verdict, the findings and the reports; what was decided."""
        record = self.ctx.record
        status, reason = decide(
            hint=self.ctx.status_hint, measurements=self.ctx.measurements, post_ok=outcome.post_ok
        )
        if record.failures:
            status, reason = Status.ERROR, self._unwritten_reason(status, reason)
        record.set(status=status, reason=reason, finished_at=self.clock.now())
        for finding in exercise.findings(record.snapshot()):
            self.ctx.audit(exercise.OPENED, finding.to_json())
        record.write_file("junit.xml", junit_xml(record.snapshot()))
        self._write_reports()
        if record.failures and status is not Status.ERROR:
            status, reason = Status.ERROR, self._unwritten_reason(status, reason)
            record.set(status=status, reason=reason)
        return status, reason

    def _test_failover_reason(self, reason: str) -> str:
        objectives, measured = self.scenario.spec.objectives, self.ctx.measurements
        unjudged = [
            k.upper()
            for k in ("rto", "rpo")
            if getattr(objectives, k) and getattr(measured, k) is None
        ]
        reason = f"test failover (nothing injected, production untouched): {reason}"
        if unjudged:
            reason += f"; {' and '.join(unjudged)} not judged (nothing was taken down)"
        return reason

    def _unwritten_reason(self, status: Status, reason: str) -> str:
        record = self.ctx.record
        count = record.failure_count
        if status is Status.ERROR and UNWRITTEN in reason:
            return reason  # the forward phases stopped for it and already say so
        return (
            f"{UNWRITTEN} ({record.failures[0]}"
            + (f", and {count - 1} more write(s)" if count > 1 else "")
            + f"); the drill itself ended {status.value}: {reason}"
        )

    def _write_reports(self) -> None:
        """report.html and report.md beside run.json; a rendering bug never changes the
        verdict, it is recorded as a notice instead."""
        from runner.journal.files import RunFolder, read_events
        from runner.reports import html, markdown

        record = self.ctx.record
        try:
            record.set(report="report.html")
            if record.failures:
                raise RecordWriteError("the record on disk is incomplete")
            folder = RunFolder(record.dir, record.snapshot(), read_events(record.dir))
            if not record.write_file("report.html", html.render(folder)):
                raise RecordWriteError(record.failures[-1])
            md = markdown.render(folder, report_path=str(record.dir / "report.html"))
            if not record.write_file("report.md", md):
                raise RecordWriteError(record.failures[-1])
        except Exception as e:  # the report is a courtesy; the record is the truth
            record.set(report=None)
            self.ctx.notice(f"the HTML report could not be written: {type(e).__name__}: {e}")


def new_run_id(clock: Clock, scenario: str) -> str:
    """`<scenario>-<utc yyyymmdd-hhmmss>-<4 hex>`: sortable, unique, DNS-safe."""
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    suffix = os.urandom(2).hex()
    base = scenario[: 63 - len(stamp) - len(suffix) - 2].rstrip("-")
    return f"{base}-{stamp}-{suffix}"
