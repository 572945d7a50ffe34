"""The drill orchestrator: the phases in order, with fault removal and cleanup on every path.

preflight → steady-state (gate) → baseline → inject → observe → failover → verify →
recover-faults → failback (per policy) → post-steady-state → cleanup (always) → report.

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
per policy and cleanup. Guardrails are evaluated at every checkpoint (between steps and
during the engine's own waits) over the whole interval since the last check, so a breach
is timed exactly even when detected a step later.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runner import __version__, processes, redact
from runner.backends import InjectedFault, RunContext, StepExecutor, TargetBackend
from runner.breakdown import rto_phases
from runner.clock import Clock
from runner.engine import events as ev
from runner.engine.metrics import MeasureResult, Metrics, Verifier
from runner.engine.verdict import Status, decide
from runner.errors import AbortRequested, DrillError, StepError
from runner.evidence import exercise, inputs
from runner.journal.entries import (
    FaultEntry,
    GuardrailBreach,
    LegacyMeasurement,
    Measurements,
    Observed,
    PhaseEntry,
    PhaseName,
    PhaseStatus,
    SteadyStateGate,
    StepEntry,
    StepStatus,
    Timeline,
    iso,
)
from runner.journal.run import Ref, Run
from runner.journal.writer import JournalWriter
from runner.measure import continuity, failback, timebase
from runner.measure.rto import detection
from runner.measure.timebase import canonical
from runner.records.store import RecordWriteError
from runner.reports.junit import junit_xml
from runner.scenario import model, templates
from runner.scenario.values import parse_duration

UNWRITTEN = "the run record could not be written"


class _StopRun(Exception):
    """Stop the forward phases; the reason is already recorded."""


@dataclass(kw_only=True)
class AbortSignal:
    """The cancel event plus why it was set (first reason wins)."""

    event: threading.Event = field(default_factory=threading.Event)
    reason: str = ""

    def request(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()


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
        self._injected: list[tuple[InjectedFault, int]] = []
        self._removed: set[int] = set()
        self._locked: list[str] = []
        self._unreleased: list[str] = []
        self._removal = threading.RLock()
        """Held while a fault is removed: by a window's end (timer) or the way back."""
        self._windows: list[Callable[[], None]] = []
        """Cancels of the timers that remove each fault when its window ends."""
        self._guard_checked: datetime | None = None
        self._status_hint: tuple[Status, str] | None = None
        self._phase = ""
        self._backward_started = False
        short = self.run_id[-20:] if len(self.run_id) > 20 else self.run_id
        self._values: dict[str, str] = {"run.id": self.run_id, "run.short": short}
        """Run-time placeholder values: `run.*` and every `captured.<name>` so far."""
        self.run = RunContext(
            run_id=self.run_id,
            scenario=self.scenario.name,
            drill=self.drill.name,
            operator=self.operator,
            clock=self.clock,
            cancel=self.abort.event,
            log=self._audit,
            interactive=self.interactive,
            approve_manual=self.approve_manual,
            inject_timeout_seconds=self.scenario.spec.timeouts.inject.total_seconds(),
            remove_timeout_seconds=self.scenario.spec.timeouts.remove.total_seconds(),
        )

    # ------------------------------------------------------------------ public

    def execute(self) -> RunResult:
        spec = self.scenario.spec
        self.record = JournalWriter(
            self.results_dir,
            Run(
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
                extra={
                    "mode": "test-failover" if self.scenario.test_failover else "drill",
                    "captured": {},
                    "timings": [],
                    **(
                        {"testFailover": [n.model_dump(mode="json") for n in self._notes()]}
                        if self.scenario.test_failover
                        else {}
                    ),
                    "exercise": exercise.metadata(
                        spec.exercise,
                        self.drill.spec.exercise,
                        run_id=self.run_id,
                        scenario_name=self.scenario.name,
                        day=self.clock.now().date().isoformat(),
                    ),
                },
            ),
        )
        self._emit(
            ev.DrillStarted,
            run_id=self.run_id,
            scenario=self.scenario.name,
            drill=self.drill.name,
            record_dir=str(self.record.dir),
            targets={n: t.description for n, t in self.targets.items()},
        )
        self.record.set(
            inputs=inputs.snapshot(
                self.record, self.scenario, self.scenario_path, self.drill, self.drill_path
            )
        )
        self._audit("drill.start", {"scenario": self.scenario.name, "drill": self.drill.name})
        for approval in self.approvals:
            self._audit(exercise.APPROVAL, approval)
        outcome: dict[str, Any] = {"measured": None, "post_ok": None}
        try:
            self._forward(outcome)
        except _StopRun:
            pass
        except AbortRequested as e:
            self._hint(Status.ABORTED, e.reason)
        except DrillError as e:
            self._hint(Status.ERROR, f"{self._phase}: {e}")
        except BaseException as e:  # KeyboardInterrupt or a bug: still clean up below
            self._hint(Status.ERROR, f"{self._phase}: {type(e).__name__}: {e}")
            self._notice(f"{self._phase}: unexpected {type(e).__name__}; cleaning up")
            self._backward(outcome)
            raise
        self._backward(outcome)
        return self._finish(outcome)

    # ------------------------------------------------------------------ forward phases

    def _forward(self, outcome: dict[str, Any]) -> None:
        spec = self.scenario.spec
        with self._phase_ctx("preflight"):
            self._preflight()
        with self._phase_ctx("steady-state"):
            gate = self._steady_state_gate()
            if not gate:
                self._hint(
                    Status.ABORTED, "steady state did not hold before injection; nothing injected"
                )
                raise _StopRun
        if self.scenario.steps_of("baseline"):
            with self._phase_ctx("baseline"):
                self._run_steps("baseline", self.scenario.steps_of("baseline"))
        with self._phase_ctx("inject"):
            if self.scenario.test_failover:
                self._mark_test_fault_start()
            else:
                self._inject()
        self._guard_checked = self._fault_start()
        with self._phase_ctx("observe"):
            self._wait(spec.timeouts.observe.total_seconds())
        with self._phase_ctx("failover"):
            self._timeline(failover_started=canonical(self.clock.now()))
            self._run_steps("failover", self.scenario.steps_of("failover"))
            self._timeline(failover_done=canonical(self.clock.now()))
        with self._phase_ctx("verify"):
            outcome["measured"] = None if self.scenario.test_failover else self._verify()
            self._measure_spans()

    def _backward(self, outcome: dict[str, Any]) -> None:
        """Remove faults, fail back per policy, check steady state, clean up. Never raises;
        nothing here depends on a record write succeeding (writes never raise)."""
        with self._removal:
            self._backward_started = True  # from here on, the way back removes every fault
            for cancel in self._windows:
                cancel()
        self._guard_checked = None  # guardrails are watched until the faults are removed
        if self.abort.event.is_set():
            self._hint(Status.ABORTED, self.abort.reason or "aborted")
            self._notice(f"aborting: {self.abort.reason}; removing faults and cleaning up")
        self.abort.event.clear()  # the cleanup must be able to wait
        try:
            with self._phase_ctx("recover-faults", reraise=False):
                self._remove_faults()
        except _StopRun:
            pass
        if self._failback_allowed(outcome):
            try:
                with self._phase_ctx("failback", reraise=False):
                    self._timeline(failback_started=canonical(self.clock.now()))
                    self._run_steps("failback", self.scenario.steps_of("failback"))
                    self._timeline(failback_done=canonical(self.clock.now()))
                with self._phase_ctx("post-steady-state", reraise=False):
                    outcome["post_ok"] = self._steady_state("after", wait_window=True)
                    self._verify_failback()
            except _StopRun:
                pass
        elif self._tl().fault_start:
            self._failback_not_measured("failback did not run")
        with self._phase_ctx("cleanup", reraise=False):
            self._cleanup()

    # ------------------------------------------------------------------ phases

    def _preflight(self) -> None:
        missing: list[str] = []
        notes: dict[str, list[str]] = {}
        for name in self.scenario.cluster_names:
            report = self.targets[name].preflight(self.scenario, self.run)
            missing += [f"{name}: {m}" for m in report.missing]
            if report.notes:
                notes[name] = list(report.notes)
            for note in report.notes:
                self._notice(f"preflight {name}: {note}")
        check = getattr(self.generic_steps, "preflight", None)
        if callable(check):  # generic steps that talk to a system (global DNS)
            missing += [str(m) for m in check(self.scenario)]
        self.record.set(preflight={"missing": missing, "notes": notes})
        if missing:
            raise DrillError("preflight found problems:\n  " + "\n  ".join(missing))
        for name in self.scenario.cluster_names:
            self.targets[name].lock.acquire(self.run)
            self._locked.append(name)
            self._audit("lock.acquire", {}, name)
        if self.metrics is not None:
            self.record.set(step_seconds=self.metrics.step_seconds())

    def _steady_state_gate(self) -> bool:
        """The gate before injection: wait up to `timeouts.steadyState` for every check to
        hold (a drill right after another, or after an abort, waits for the system to settle),
        saying what it waits for; False when it never held."""
        limit = self.scenario.spec.timeouts.steady_state.total_seconds()
        start = self.clock.monotonic()
        said: tuple[str, float] | None = None
        while True:
            failing = self._steady_state_failing("before")
            if failing is None:
                return True
            waited = self.clock.monotonic() - start
            left = limit - waited
            if left <= 0:
                if said is not None:
                    self._notice(f"steady state did not hold within {limit:g}s: {failing}")
                return False
            if said is None or failing != said[0] or waited - said[1] >= 10:
                self._notice(
                    f"waiting for steady state ({left:.0f}s left of {limit:g}s): {failing}"
                )
                said = (failing, waited)
            self._wait(min(left, max(1.0, self.metrics.step_seconds() if self.metrics else 1.0)))

    def _steady_state(self, when: str, *, wait_window: bool = False) -> bool:
        return self._steady_state_failing(when, wait_window=wait_window) is None

    def _steady_state_failing(self, when: str, *, wait_window: bool = False) -> str | None:
        """Evaluate the checks and record them under `when`; the first failure, or None."""
        checks = self.scenario.spec.steady_state
        if not checks or self.metrics is None:
            return None
        if wait_window:
            # the whole window must lie after failback: samples at its start still describe
            # the scrape interval before it, so wait two steps more than the window
            settle = 2 * self.metrics.step_seconds()
            self._wait(max(c.window.total_seconds() for c in checks) + settle, guard=False)
        gate = self.metrics.steady_state(checks, end=self.clock.now())
        entry = SteadyStateGate(passed=gate.passed, checks=gate.checks)
        self.record.set(steady_state={**self.record.run.steady_state, when: entry})
        if gate.passed:
            return None
        bad = next((c for c in gate.checks if not c.passed), None)
        return "the checks failed" if bad is None else f"{bad.name}: {bad.reason or 'failed'}"

    def _inject(self) -> None:
        start = self.clock.monotonic()
        for fault in sorted(self.scenario.spec.faults, key=lambda f: f.start_after):
            delay = fault.start_after.total_seconds() - (self.clock.monotonic() - start)
            if delay > 0:
                self._wait(delay)
            self._check()
            backend = self.targets[fault.cluster]
            if fault.name == self.scenario.start_fault() and not self._tl().fault_requested:
                self._timeline(fault_requested=canonical(self.clock.now()))
            intent = {"intent": "create", "fault": fault.name, "cluster": fault.cluster}
            if not self.record.ledger(intent):
                self._check()  # raises RecordWriteError: never inject an unrecorded intent
            handles = backend.faults.inject(fault, self.run, self._fault_created)
            for handle in handles:
                self._fault_confirmed(handle)
                self._end_window_later(fault, handle)

    def _end_window_later(self, fault: model.Fault, handle: InjectedFault) -> None:
        """Remove the fault when its window (its duration, from confirmed injection) ends,
        whatever phase the run is in; Chaos Mesh's own duration is only the safety net."""
        seconds = window_seconds(fault)
        if seconds is None:
            return
        self._windows.append(self.clock.call_later(seconds, lambda: self._window_ended(handle)))

    def _window_ended(self, handle: InjectedFault) -> None:
        with self._removal:
            if self._backward_started:
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
            self._audit(
                "fault.window-ended", {"fault": handle.fault, "name": handle.name}, handle.cluster
            )
            try:
                self._remove_one(handle, index)
            except DrillError as e:  # the way back tries again
                self._notice(
                    f"fault {handle.fault!r}: removal at the end of its window failed: {e}"
                )

    def _mark_test_fault_start(self) -> None:
        """A test failover injects nothing: the moment the fault would have started is the
        fault start of its measurements (`RPO = fault start - backup`: had the site been
        lost now)."""
        now = canonical(self.clock.now())
        self._timeline(fault_requested=now, fault_start=now)
        for note in self._notes():
            if note.what == "not injected":
                self._notice(f"test failover: fault {note.step!r} not injected")

    def _notes(self) -> list[model.TestFailoverNote]:
        return self.scenario.expansion.notes

    def _measure_spans(self) -> None:
        """RTO/RPO between recorded instants (`measure.spans`), and the reported timings."""
        from runner.measure import spans

        m = self.scenario.spec.measure
        times = {**self._tl().to_json(), **self._values}
        objectives = self.scenario.spec.objectives

        def known(instant: model.Instant) -> spans.Known | str:
            if isinstance(instant, model.Window):
                first = spans.instant(instant.earliest, times)
                last = spans.instant(instant.latest, times)
                if isinstance(first, str) or isinstance(last, str):
                    return "; ".join(x for x in (first, last) if isinstance(x, str))
                return spans.window(first, last)
            return spans.instant(instant, times)

        measured = self._measurements()
        for kind in ("rto", "rpo"):
            span = getattr(m.spans, kind)
            if span is None:
                continue
            objective = getattr(objectives, kind)
            result = spans.measure(kind.upper(), known(span.from_), known(span.to))
            judged = result.judged(objective.total_seconds() if objective else None)
            measured = (
                replace(measured, rto=judged) if kind == "rto" else replace(measured, rpo=judged)
            )
        timings = [
            {"name": t.name, **spans.measure(t.name, known(t.from_), known(t.to)).to_json()}
            for t in m.timings
        ]
        self.record.set(measurements=measured)
        self.record.set_extra(timings=timings)

    def _fault_created(self, handle: InjectedFault) -> None:
        index = self.record.append("faults", _fault_entry(handle))
        self._injected.append((handle, index))
        self.record.ledger({"created": handle.to_json()})
        self._audit("fault.create", {"fault": handle.fault, "kind": handle.kind}, handle.cluster)

    def _fault_confirmed(self, handle: InjectedFault) -> None:
        for i, (known, index) in enumerate(self._injected):
            if (known.cluster, known.kind, known.name) == (
                handle.cluster,
                handle.kind,
                handle.name,
            ):
                self._injected[i] = (handle, index)
                self.record.patch("faults", index, injected_at=handle.injected_at)
        self._audit("fault.injected", {"fault": handle.fault, "name": handle.name}, handle.cluster)
        self._emit(
            ev.FaultInjected,
            cluster=handle.cluster,
            fault=handle.fault,
            kind=handle.kind,
            name=handle.name,
        )
        if handle.fault == self.scenario.start_fault() and not self._tl().fault_start:
            self._timeline(fault_start=canonical(handle.injected_at or self.clock.now()))

    def _verify(self) -> Any:
        """Poll the verification until the SLI has recovered and held (or the recovery
        window ends), then measure once more: each poll reads only what is new."""
        spec = self.scenario.spec
        fault_start = self._fault_start()
        window_end = fault_start + spec.timeouts.recovery
        if self.metrics is None or (spec.measure.rto is None and spec.measure.rpo is None):
            return None
        verifier = self.metrics.verification(
            spec, fault_start=fault_start, fault_requested=self._tl().fault_requested
        )
        end = self._poll_recovery(verifier, window_end, polls=spec.measure.rto is not None)
        result = verifier.finish(end, failover_done=self._tl().failover_done)
        self._timeline(window_end=end)
        self.record.set(
            measurements=Measurements(rto=result.rto, rpo=result.rpo),
            measurement_inputs=result.stored,
        )
        self._observe_ground_truth(fault_start, end)
        self._rto_phases(fault_start, result)
        return result

    def _poll_recovery(self, verifier: Verifier, window_end: datetime, *, polls: bool) -> datetime:
        """Poll until the SLI has recovered and held (or `window_end`), then wait one more
        scrape so the last samples are in; the end of the measured window."""
        assert self.metrics is not None
        step = self.metrics.step_seconds()
        poll = max(2.0, 2 * step)
        while polls:
            now = self.clock.now()
            progress = verifier.poll(now)
            self._emit(ev.SliObserved, value=progress.sli_value, up=progress.done)
            if progress.done or now >= window_end:
                break
            self._wait(poll)
        self._wait(step)
        return canonical(self.clock.now())

    def _verify_failback(self) -> None:
        """Failback as a second measured recovery (`runner.measure.failback`): its RTO and
        RPO with the failover rules from the start of failback to the end of the post-check,
        split-brain writes, how the old primary rejoined; then the target's ground truth."""
        spec = self.scenario.spec
        tl = self._tl()
        start, done = tl.failback_started, tl.failback_done
        if start is None or done is None:
            self._failback_not_measured("failback did not complete")
            return
        entries: dict[str, Any] = {}
        derived = failback.failback_spec(spec)
        end = canonical(self.clock.now())
        if derived is not None and self.metrics is not None:
            verifier = self.metrics.verification(derived, fault_start=start, fault_requested=None)
            end = self._poll_recovery(
                verifier, start + spec.timeouts.recovery, polls=derived.measure.rto is not None
            )
            result = verifier.finish(end, failover_done=done)
            if result.rto is not None:
                entries["failback_rto"] = failback.as_failback_rto(result.rto)
            if result.rpo is not None:
                entries["failback_rpo"] = result.rpo
            self.record.set(
                measurement_inputs={
                    **(self.record.run.measurement_inputs or {}),
                    "failback": result.stored,
                }
            )
        self._timeline(failback_window_end=end)
        split = spec.measure.failback.split_brain if spec.measure.failback else None
        if split is not None:
            entries["split_brain"] = self._split_brain(split, done)
        if spec.failback.expect.rejoin is not None or self._rejoin_outputs():
            facts, problem = failback.parse_rejoin(self._rejoin_outputs())
            entries["rejoin"] = failback.judge_rejoin(facts, problem, spec.failback.expect.rejoin)
        if entries:
            self.record.set(measurements=replace(self._measurements(), **entries))
        self._observe_failback(start, end)

    def _rejoin_outputs(self) -> list[tuple[str, str]]:
        return [
            (s.name, s.output)
            for s in self.record.run.steps
            if s.phase == "failback" and s.status is StepStatus.SUCCEEDED
        ]

    def _split_brain(
        self, method: model.SplitBrainMethod, done: datetime
    ) -> failback.SplitBrainResult:
        """The old primary's acknowledged writes from the start of failover until it was
        rejoined (the failback step that reported rejoin facts, else the first one)."""
        limit = failback.split_brain_limit(self.scenario.spec)
        run = self.record.run
        spans = failback.split_brain_spans(
            run.phases,
            run.steps,
            run.timeline.failover_started,
            until=done,
            from_step=method.from_step,
        )
        if self.metrics is None or not spans:
            return failback.compute_split_brain([], spans=spans, limit=limit)
        step = self.metrics.step_seconds()
        start = timebase.at(spans[0].start) - timedelta(seconds=10 * step)
        end = timebase.at(spans[-1].end) + timedelta(seconds=2 * step)
        series = self.metrics.counter(method.acknowledged, start=start, end=end)
        created = (
            None
            if method.created is None
            else self.metrics.counter(method.created, start=start, end=end)
        )
        return failback.compute_split_brain(series, spans=spans, limit=limit, created=created)

    def _failback_not_measured(self, why: str) -> None:
        """Failback objectives that were not measured are inconclusive, never met."""
        spec = self.scenario.spec
        o = spec.objectives.failback
        wanted = {
            "failback_rto": o is not None and o.rto is not None,
            "failback_rpo": o is not None and (o.rpo is not None or o.max_lost_writes is not None),
            "split_brain": failback.split_brain_limit(spec) is not None,
            "rejoin": spec.failback.expect.rejoin not in (None, model.RejoinExpectation.ANY),
        }
        entries = {
            k: LegacyMeasurement.from_json(
                {"status": "inconclusive", "met": None, "explanation": f"not measured: {why}"}
            )
            for k, on in wanted.items()
            if on
        }
        if entries:
            self.record.set(measurements=replace(self._measurements(), **entries))

    def _observe_failback(self, start: datetime, until: datetime) -> None:
        hold = 0.0
        derived = failback.failback_spec(self.scenario.spec)
        if derived is not None and derived.measure.rto is not None:
            hold = derived.measure.rto.hold.total_seconds()
        backend = self.targets[self._start_cluster()]
        try:
            seen = backend.observed_failback(
                timeline=self._tl().moments(), hold_seconds=hold, until=until
            )
        except DrillError as e:
            seen = {"error": str(e)}
        if seen is not None:
            truth = dict(seen)
            ledger = truth.pop("ledger", None)
            if isinstance(ledger, Mapping):
                truth["continuity"] = self._continuity(ledger, str(truth.get("site") or ""))
            observed = self.record.run.observed
            values = {} if observed is None else dict(observed.values)
            self.record.set(observed=Observed(values={**values, "failback": truth}))

    def _continuity(self, ledger: Mapping[str, Any], old_primary: str) -> dict[str, Any]:
        """Every write the target's ledger says was acknowledged, checked against the rows
        of its final primary, per phase (`runner.measure.continuity`)."""
        run = self.record.run
        instants = {
            k: t.timestamp()
            for k, t in run.timeline.moments().items()
            if k in {key for _, key in continuity.DRILL_PHASES if key}
        }
        since = float(ledger.get("since") or instants.get("faultStart", 0.0))
        fb = self.scenario.spec.measure.failback
        spans = failback.split_brain_spans(
            run.phases,
            run.steps,
            run.timeline.failover_started,
            until=run.timeline.failback_done or self.clock.now(),
            from_step=None if fb is None or fb.split_brain is None else fb.split_brain.from_step,
        )
        split = (
            {old_primary: (spans[0].start / 1000, spans[-1].end / 1000)}
            if spans and old_primary
            else {}
        )
        result = continuity.account(
            (continuity.Write(site=a, seq=int(b), ts=float(c)) for a, b, c in ledger["acks"]),
            (continuity.Write(site=a, seq=int(b), ts=float(c)) for a, b, c in ledger["present"]),
            phases=continuity.drill_phases(instants, since=since),
            split_brain=split,
        )
        return result.to_json()

    def _rto_phases(self, fault_start: datetime, result: MeasureResult) -> None:
        """With a DNS failover (a `dns.wait` among the failover steps), the RTO's phase
        breakdown: detected (the SLI's last healthy and first failing samples), orchestrated,
        DNS converged, TTL bound, healthy (the RTO's bounds)."""
        run = self.record.run
        waits = [
            s.details
            for s in run.steps
            if s.phase == "failover" and s.action == "dns.wait" and s.details
        ]
        if not waits:
            return
        detected, healthy = None, None
        if (r := self.scenario.spec.measure.rto) is not None:
            seen = detection(result.sli, up_when=r.up_when, fault_start=timebase.ms(fault_start))
            if seen is not None:
                detected = (None if seen[0] is None else seen[0] / 1000, seen[1] / 1000)
        if result.rto is not None and result.rto.bounds is not None:
            base, b = result.rto.verdict_start / 1000, result.rto.bounds
            healthy = (base + b.lower, None if b.upper is None else base + b.upper)
        done = run.timeline.failover_done
        phases = rto_phases(
            fault_start=fault_start.timestamp(),
            detected=detected,
            failover_done=None if done is None else done.timestamp(),
            dns_wait=waits[-1],
            healthy=healthy,
            observed=None if run.observed is None else run.observed.values,
        )
        self.record.set(rto_phases=phases)

    def _observe_ground_truth(self, fault_start: datetime, until: datetime) -> None:
        rto = self.scenario.spec.measure.rto
        hold = rto.hold.total_seconds() if rto else 0.0
        backend = self.targets[self._start_cluster()]
        try:
            observed = backend.observed(fault_start=fault_start, hold_seconds=hold, until=until)
        except DrillError as e:
            observed = {"error": str(e)}
        if observed is not None:
            self.record.set(observed=Observed(values=dict(observed)))

    def _remove_faults(self) -> None:
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

    def _remove_one(self, handle: InjectedFault, index: int) -> None:
        """Remove one fault and record it; DrillError (also for a bug) when it stays."""
        error: DrillError | None = None
        try:
            self.targets[handle.cluster].faults.remove(handle, self.run)
        except Exception as e:  # a bug in one removal must not keep the others
            error = e if isinstance(e, DrillError) else DrillError(f"{type(e).__name__}: {e}")
        if error is None:
            self._removed.add(index)
            self.record.patch("faults", index, recovered_at=self.clock.now())
            self.record.ledger({"removed": handle.to_json()})
            self._audit(
                "fault.remove", {"fault": handle.fault, "name": handle.name}, handle.cluster
            )
        self._emit(
            ev.FaultRemoved,
            cluster=handle.cluster,
            fault=handle.fault,
            kind=handle.kind,
            name=handle.name,
            error=None if error is None else str(error),
        )
        if error is not None:
            raise error

    def _failback_allowed(self, outcome: dict[str, Any]) -> bool:
        policy = self.scenario.spec.failback.policy
        if not self.scenario.spec.failback.steps or policy == model.FailbackPolicy.NEVER:
            return False
        if not self._tl().fault_start:
            return False  # nothing was injected, so nothing failed over
        if policy == model.FailbackPolicy.ALWAYS:
            return True
        if policy == model.FailbackPolicy.MANUAL:
            if self.manual_failback is None:
                self._notice("failback policy is manual and this run is not interactive: skipped")
                return False
            return self.manual_failback()
        # on-success: only when the drill has met everything so far
        status, _ = decide(hint=self._status_hint, measurements=self._measurements(), post_ok=None)
        return status == Status.PASSED

    def _cleanup(self) -> None:
        problems = []
        try:
            self._remove_faults()  # anything the recover phase could not remove: try again
        except DrillError as e:
            problems.append(str(e))
        for name in reversed(self._locked):
            try:
                self.targets[name].lock.release(self.run)
                self._audit("lock.release", {}, name)
            except Exception as e:  # every lock is released whatever the others do
                self._unreleased.append(name)
                problems.append(f"{name}: lock not released: {type(e).__name__}: {e}")
        self._locked.clear()
        if problems:
            raise DrillError("; ".join(problems))

    # ------------------------------------------------------------------ steps

    def _run_steps(self, phase: str, steps: list[model.Step]) -> None:
        for step in steps:
            self._check()
            self._run_step(phase, step)
        self._check()

    def _executor(self, step: model.Step) -> StepExecutor:
        if step.cluster is not None and step.cluster in self.targets:
            backend = self.targets[step.cluster]
            if backend.steps.supports(step.action):
                return backend.steps
        if self.generic_steps.supports(step.action):
            return self.generic_steps
        where = f"target {step.cluster!r}" if step.cluster else "any target"
        raise StepError(f"step {step.name!r}: action {step.action!r} is not supported by {where}")

    def _run_step(self, phase: str, step: model.Step) -> None:
        executor = self._executor(step)
        now = self.clock.now()
        index = self.record.append(
            "steps",
            StepEntry(
                phase=phase,
                name=step.name,
                action=step.action,
                cluster=step.cluster,
                started_at=now,
                id=step.id or None,
                recipe=step.origin.recipe if step.origin else None,
            ),
        )
        started = now.isoformat()  # the run-time placeholders' text
        if step.id:
            self._values[f"steps.{step.id}.started"] = started
        self._values["run.now"] = started
        try:
            step = templates.resolve_step(step, self._values)
        except (KeyError, ValueError) as e:
            why = (
                f"${{{{ {e.args[0]} }}}} has no value (the step that captures it did not run)"
                if isinstance(e, KeyError)
                else f"with the captured values filled in, the step is not valid: {e}"
            )
            self.record.patch(
                "steps", index, status=StepStatus.FAILED, finished_at=self.clock.now(), error=why
            )
            raise StepError(f"step {step.name!r}: {why}") from None
        attempts = step.retries + 1
        last_error = ""
        for attempt in range(1, attempts + 1):
            self._emit(
                ev.StepStarted, phase=phase, step=step.name, cluster=step.cluster, attempt=attempt
            )
            self._audit(
                f"step.{step.action}", {"step": step.name, "attempt": attempt}, step.cluster or ""
            )
            try:
                result = executor.execute(step, self.run)
            except StepError as e:
                last_error = str(e)
                self.record.patch("steps", index, attempts=attempt, error=last_error)
                if self.abort.event.is_set():
                    break
                if attempt < attempts:
                    self._notice(
                        f"step {step.name!r} attempt #{attempt}/{attempts} failed; will retry in "
                        f"{step.retry_delay.total_seconds():g}s: {last_error}"
                    )
                    self._wait(step.retry_delay.total_seconds())
                continue
            for name, value in result.captured.items():
                if redact.names_a_secret(name.rsplit(".", 1)[-1]):
                    redact.register(value)  # masked in every later output, record, report
            finished = self.clock.now()
            self.record.patch(
                "steps",
                index,
                status=StepStatus.SUCCEEDED,
                attempts=attempt,
                finished_at=finished,
                output=result.output[-2000:],
                error=None,
                # DNS steps' timings feed the RTO's phase breakdown
                **({"details": dict(result.details)} if step.action in model.DNS_ACTIONS else {}),
            )
            if step.id:
                self._values[f"steps.{step.id}.finished"] = finished.isoformat()
            if result.captured:
                self._values.update({f"captured.{k}": v for k, v in result.captured.items()})
                captured = self.record.run.extra.get("captured") or {}
                self.record.set_extra(captured={**captured, **result.captured})
            self._emit(ev.StepFinished, phase=phase, step=step.name, status="ok", attempts=attempt)
            return
        self.record.patch("steps", index, status=StepStatus.FAILED, finished_at=self.clock.now())
        self._emit(
            ev.StepFinished,
            phase=phase,
            step=step.name,
            status="failed",
            attempts=attempt,
            error=last_error,
        )
        self._check()
        raise StepError(f"step {step.name!r} failed after {attempt} attempt(s): {last_error}")

    # ------------------------------------------------------------------ waits and guardrails

    def _wait(self, seconds: float, *, guard: bool = True) -> None:
        """Wait, checking guardrails and the abort signal about every second."""
        deadline = self.clock.monotonic() + seconds
        while True:
            if guard:
                self._check()
            left = deadline - self.clock.monotonic()
            if left <= 0:
                return
            if self.clock.sleep(min(left, 1.0), self.abort.event):
                if guard:
                    self._check()  # raises AbortRequested
                return

    def _check(self) -> None:
        """A checkpoint: abort if asked, or if a guardrail was breached since the last check;
        in the forward phases, stop once a record write has failed."""
        if self.abort.event.is_set():
            raise AbortRequested(self.abort.reason or "aborted")
        if self.record.failures and not self._backward_started:
            raise RecordWriteError(f"{UNWRITTEN} ({self.record.failures[0]}); stopping the drill")
        for name in self._locked:
            self.targets[name].lock.renew(self.run)
        guardrails = self.scenario.spec.guardrails
        if not guardrails or self.metrics is None or self._guard_checked is None:
            return
        now = self.clock.now()
        step = self.metrics.step_seconds()
        if (now - self._guard_checked).total_seconds() < step:
            return
        # a breach must last `for`, which can span several checkpoints: look back far
        # enough to see the whole of it (never before the fault start), so a breach still
        # going on is confirmed at the first check that can, whatever the check interval
        span = max(g.for_ for g in guardrails) + timedelta(seconds=2 * step)
        start = max(self._fault_start(), self._guard_checked - span)
        breaches = self.metrics.guardrails(guardrails, start=start, end=now)
        self._guard_checked = now
        if breaches:
            b = breaches[0]
            for item in breaches:
                self.record.append(
                    "guardrails",
                    GuardrailBreach(name=item.guardrail, value=item.value, breached_at=item.at),
                )
            self._emit(ev.GuardrailBreached, guardrail=b.guardrail, value=b.value, breached_at=b.at)
            reason = f"guardrail {b.guardrail!r} breached: value {b.value:g} at {iso(b.at)}"
            self.abort.request(reason)
            raise AbortRequested(reason)

    # ------------------------------------------------------------------ bookkeeping

    def _finish(self, outcome: dict[str, Any]) -> RunResult:
        with self._phase_ctx("report", reraise=False):
            status, reason = decide(
                hint=self._status_hint,
                measurements=self._measurements(),
                post_ok=outcome["post_ok"],
            )
            if self.record.failures:
                status, reason = Status.ERROR, self._unwritten_reason(status, reason)
            self.record.set(status=status, reason=reason, finished_at=self.clock.now())
            for finding in exercise.findings(self.record.snapshot().to_json()):
                self._audit(exercise.OPENED, finding.to_json())
            self.record.write_file("junit.xml", junit_xml(self.record.snapshot()))
            self._write_reports()
            if self.record.failures and status is not Status.ERROR:
                status, reason = Status.ERROR, self._unwritten_reason(status, reason)
                self.record.set(status=status, reason=reason)
        if self.scenario.test_failover:
            objectives = self.scenario.spec.objectives
            measured = self._measurements()
            unjudged = [
                k.upper()
                for k in ("rto", "rpo")
                if getattr(objectives, k) and getattr(measured, k) is None
            ]
            reason = f"test failover (nothing injected, production untouched): {reason}"
            if unjudged:
                reason += f"; {' and '.join(unjudged)} not judged (nothing was taken down)"
            self.record.set(reason=reason)
        self._audit("drill.finish", {"status": status.value, "reason": reason})
        record = self.record.snapshot()
        m = record.measurements
        self._emit(
            ev.DrillFinished,
            status=status.value,
            reason=reason,
            record_dir=str(self.record.dir),
            rto_seconds=None if m.rto is None else m.rto.seconds,
            rpo_seconds=None if m.rpo is None else m.rpo.seconds,
        )
        return RunResult(
            run_id=self.run_id,
            status=status,
            reason=redact.text(reason),
            record_dir=self.record.dir,
            record=record,
            record_failures=tuple(self.record.failures),
            faults_left=tuple(
                f"{h.cluster}/{h.name}" for h, i in self._injected if i not in self._removed
            ),
            locks_held=tuple(self._unreleased),
        )

    def _unwritten_reason(self, status: Status, reason: str) -> str:
        count = self.record.failure_count
        if status is Status.ERROR and UNWRITTEN in reason:
            return reason  # the forward phases stopped for it and already say so
        return (
            f"{UNWRITTEN} ({self.record.failures[0]}"
            + (f", and {count - 1} more write(s)" if count > 1 else "")
            + f"); the drill itself ended {status.value}: {reason}"
        )

    def _write_reports(self) -> None:
        """report.html and report.md beside run.json; a rendering bug never changes the
        verdict, it is recorded as a notice instead."""
        from runner.journal.files import RunFolder, read_events
        from runner.reports import html, markdown

        try:
            self.record.set(report="report.html")
            if self.record.failures:
                raise RecordWriteError("the record on disk is incomplete")
            folder = RunFolder(
                self.record.dir, self.record.snapshot(), read_events(self.record.dir)
            )
            if not self.record.write_file("report.html", html.render(folder)):
                raise RecordWriteError(self.record.failures[-1])
            md = markdown.render(folder, report_path=str(self.record.dir / "report.html"))
            if not self.record.write_file("report.md", md):
                raise RecordWriteError(self.record.failures[-1])
        except Exception as e:  # the report is a courtesy; the record is the truth
            self.record.set(report=None)
            self._notice(f"the HTML report could not be written: {type(e).__name__}: {e}")

    def _phase_ctx(self, name: str, *, reraise: bool = True) -> _PhaseScope:
        return _PhaseScope(self, name, reraise)

    def _measurements(self) -> Measurements:
        return self.record.run.measurements

    def _hint(self, status: Status, reason: str) -> None:
        if self._status_hint is None:
            self._status_hint = (status, reason)

    def _tl(self) -> Timeline:
        return self.record.run.timeline

    def _timeline(self, **moments: datetime) -> None:
        self.record.set(timeline=replace(self._tl(), **moments))

    def _fault_start(self) -> datetime:
        start = self._tl().fault_start
        return start if start is not None else self.clock.now()

    def _start_cluster(self) -> str:
        name = self.scenario.start_fault()
        return next(f.cluster for f in self.scenario.spec.faults if f.name == name)

    def _audit(self, action: str, details: Mapping[str, Any], target: str = "") -> None:
        self.record.event(self.clock.now(), self.operator, action, target, details)

    def _notice(self, message: str) -> None:
        self._emit(ev.Notice, message=message)
        self._audit("notice", {"message": message})

    def _emit(self, cls: type[ev.Event], **fields: Any) -> None:
        self.on_event(cls(at=self.clock.now(), **fields))


class _PhaseScope:
    """Records a phase's start, end, status and error; turns errors into the run's status."""

    def __init__(self, run: DrillRun, name: str, reraise: bool) -> None:
        self.run, self.name, self.reraise = run, name, reraise

    def __enter__(self) -> None:
        r = self.run
        r._phase = self.name
        self.index = r.record.append(
            "phases", PhaseEntry(name=PhaseName(self.name), started_at=r.clock.now())
        )
        r._emit(ev.PhaseStarted, phase=self.name)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        r = self.run
        if exc is None:
            status, error = PhaseStatus.SUCCEEDED, None
        elif isinstance(exc, _StopRun):
            status, error = PhaseStatus.STOPPED, r._status_hint[1] if r._status_hint else None
        elif isinstance(exc, AbortRequested):
            status, error = PhaseStatus.ABORTED, exc.reason
        else:
            status, error = PhaseStatus.FAILED, str(exc) or type(exc).__name__
            if isinstance(exc, DrillError) or not self.reraise:
                r._hint(Status.ERROR, f"{self.name}: {error}")
        r.record.patch("phases", self.index, status=status, finished_at=r.clock.now(), error=error)
        r._emit(ev.PhaseFinished, phase=self.name, status=status.value, error=error)
        # recorded; in the backward phases the run goes on, whatever the error was
        return exc is not None and not self.reraise and isinstance(exc, Exception)


def _fault_entry(handle: InjectedFault) -> FaultEntry:
    return FaultEntry(
        cluster=handle.cluster,
        fault=handle.fault,
        kind=handle.kind,
        name=handle.name,
        namespace=handle.namespace,
        injected_at=handle.injected_at,
        one_shot=handle.one_shot,
    )


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


def new_run_id(clock: Clock, scenario: str) -> str:
    """`<scenario>-<utc yyyymmdd-hhmmss>-<4 hex>`: sortable, unique, DNS-safe."""
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    suffix = os.urandom(2).hex()
    base = scenario[: 63 - len(stamp) - len(suffix) - 2].rstrip("-")
    return f"{base}-{stamp}-{suffix}"
