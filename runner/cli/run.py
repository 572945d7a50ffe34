"""`drillctl run`: run a drill with a live view, a safe abort, and the verdict as the exit code.

This is the one place that turns SIGINT/SIGTERM into an abort. The first signal asks the
engine to stop; faults are removed, failback runs per policy and the record is written.
A second signal only says what is still being cleaned up: nothing is ever left injected
because the user pressed Ctrl-C twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from runner.cli import exits
from runner.cli.options import drill_option, results_option
from runner.cli.output import output_option

if TYPE_CHECKING:
    from runner.cli.live import LiveView
    from runner.engine.drill import AbortSignal, RunResult
    from runner.engine.launch import DrillRequest
    from runner.scenario.model import Drill, Scenario


def _parse_targets(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, context = value.partition("=")
        if not sep or not name or not context:
            raise click.BadParameter(f"expected NAME=CONTEXT, got {value!r}", param_hint="--target")
        out[name] = context
    return out


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@drill_option()
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME=CONTEXT",
    help="Bind a Kubernetes target to another kube context.",
)
@click.option("--yes", is_flag=True, help="Do not ask before running.")
@click.option(
    "--confirm-target",
    "confirmed",
    multiple=True,
    metavar="NAME",
    help="Confirm a protected target without typing its name (with --yes).",
)
@click.option("--dry-run", is_flag=True, help="Validate and show the plan; inject nothing.")
@click.option(
    "--test-failover",
    is_flag=True,
    help="Inject nothing and leave production up: run the recipes' test failover (Ramen "
    "dryRun, a restore into a scratch namespace, ...) and skip every other step that changes "
    "the system; the plan and the record say what was skipped or redirected.",
)
@click.option("--approve-manual", is_flag=True, help="Pre-approve manual steps.")
@results_option
@click.option(
    "--operator", default=None, help="Who runs the drill (default: $DRILL_OPERATOR or the user)."
)
@output_option
def command(
    scenario: Path,
    drill_path: Path,
    targets: tuple[str, ...],
    yes: bool,
    confirmed: tuple[str, ...],
    dry_run: bool,
    test_failover: bool,
    approve_manual: bool,
    results_dir: Path,
    operator: str | None,
    output: str,
) -> int:
    """Run SCENARIO against the targets of --drill and judge it against its objectives."""
    from runner.engine.launch import DrillRequest, default_operator, load

    interactive = sys.stdin.isatty()
    request = DrillRequest(
        scenario_path=scenario,
        drill_path=drill_path,
        results_dir=results_dir,
        operator=operator or default_operator(),
        target_contexts=_parse_targets(targets),
        interactive=interactive,
        approve_manual=approve_manual,
        test_failover=test_failover,
    )
    sc, drill = load(request)
    request = dataclasses.replace(request, loaded=(sc, drill))  # each file is read once
    if dry_run:
        from runner.engine.plan import render_plan

        click.echo(render_plan(sc, drill))  # every value in it is a text.line
        return exits.OK
    if sc.test_failover:
        click.echo(_test_notes(sc), err=True)
    names = _confirmed_targets(sc, drill, yes=yes, confirmed=confirmed, interactive=interactive)
    if names is None:
        click.echo("Not confirmed; nothing was done.", err=True)
        return exits.INVALID
    request = dataclasses.replace(
        request, confirmed_targets=names, confirm_option="--yes --confirm-target"
    )
    return _report(_run_live(request, output=output, interactive=interactive), output)


def _run_live(request: DrillRequest, *, output: str, interactive: bool) -> RunResult:
    """Launch the drill under the live view, with signals turned into an abort."""
    from runner.cli.live import LiveView
    from runner.engine.drill import AbortSignal
    from runner.engine.launch import launch

    abort = AbortSignal()
    view = LiveView(
        rich=None if output == "text" else False, stream=sys.stderr if output != "text" else None
    )
    with _signals_abort(abort, view), view:
        return launch(
            request,
            abort=abort,
            on_event=view.on_event,
            prompt=_prompt if interactive else None,
            manual_failback=(lambda: click.confirm("Fail back now?", default=True))
            if interactive
            else None,
        )


def _confirmed_targets(
    sc: Scenario, drill: Drill, *, yes: bool, confirmed: tuple[str, ...], interactive: bool
) -> frozenset[str] | None:
    """The protected targets confirmed for this run: by `--yes --confirm-target NAME`, else
    typed at the prompt. None: a typed name did not match. UsageError when unattended."""
    from runner.engine.launch import protected_targets

    typed_names: set[str] = set()
    for name in protected_targets(sc, drill):
        if yes and name in confirmed:
            continue
        if not interactive:
            raise click.UsageError(
                f"target {name!r} is protected: "
                f"pass --yes --confirm-target {name} to run unattended"
            )
        typed = click.prompt(f"Target {name!r} is protected. Type its name to proceed")
        if typed != name:
            return None
        typed_names.add(name)
    return frozenset(typed_names | (set(confirmed) if yes else set()))


@contextlib.contextmanager
def _signals_abort(abort: AbortSignal, view: LiveView) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM abort the drill (once); a second signal only
    says what is still being cleaned up. The previous handlers come back after."""
    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1
        name = signal.Signals(signum).name
        if signals["count"] == 1:
            abort.request(f"interrupted by {name}")
            view.note(f"{name}: stopping the drill; removing faults and cleaning up")
        else:
            active = view.active_faults()
            still = "; ".join(active) if active else "no fault is active"
            view.note(
                f"{name} again: still cleaning up ({still}); please wait, no fault is left behind"
            )

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _report(result: RunResult, output: str) -> int:
    """Print the run's summary (or its record as JSON/YAML); the verdict's exit code."""
    from runner.engine.verdict import EXIT_CODES
    from runner.reports.summary import render_text

    if output == "text":
        click.echo("")
        click.echo(render_text(result.record, record_dir=str(result.record_dir)))
    else:
        from runner.cli.output import emit

        emit(result.record.to_json(), output, lambda d: "")
    if result.record_failures:
        click.echo(f"error: {unwritten_record(result)}", err=True)
        return exits.RUNNER
    return EXIT_CODES[result.status]


def unwritten_record(result: Any) -> str:
    """One line: the record could not be written, and what the runner still did."""
    removed = (
        f"faults NOT removed: {', '.join(result.faults_left)}"
        if result.faults_left
        else "every fault removed"
    )
    released = (
        f"locks NOT released: {', '.join(result.locks_held)}"
        if result.locks_held
        else "every lock released"
    )
    return (
        f"run {result.run_id}: the record in {result.record_dir} could not be written "
        f"({result.record_failures[0]}); {removed}, {released}; the run ended "
        f"{result.status.value}"
    )


def _prompt(text: str, timeout: float) -> bool:
    from runner.text import block

    click.echo(f"\nMANUAL STEP: {block(text)}")  # the scenario's instructions, lines kept
    try:
        answer: Any = click.prompt("Type 'done' when finished", default="", show_default=False)
    except click.Abort:
        return False
    return str(answer).strip().lower() in ("done", "yes", "y")


def _test_notes(sc: Any) -> str:
    """What a test failover does instead of the drill, one line per difference."""
    from runner.text import line

    out = ["Test failover: nothing is injected and production stays as it is."]
    out += [line(f"  {n.what}: {n.step} ({n.phase}): {n.reason}") for n in sc.expansion.notes]
    return "\n".join(out)
