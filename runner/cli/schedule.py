"""`drillctl schedule`: serve drills on their schedules, and list, pause, resume or run them.

This module is the only place where the scheduler meets signals: SIGTERM and SIGINT ask
the service to stop (no new runs; running drills abort, clean up and are waited for).
`list`, `pause`, `resume` and `run-now` work on the persistent store, so they act on
whichever replica is the active scheduler, or on none.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click
from sqlalchemy import Engine

from runner import text
from runner.cli import exits
from runner.cli.options import results_option
from runner.clock import SystemClock
from runner.errors import UsageError
from runner.scenario.model import Schedule
from runner.scheduler import control
from runner.scheduler import events as ev
from runner.scheduler.catalog import Catalog
from runner.scheduler.firing import FiringSettings, launching
from runner.scheduler.history import HistoryRow, RunHistory
from runner.scheduler.leader import FileLeader, Leadership, SoleLeader
from runner.scheduler.requests import RunRequests
from runner.scheduler.service import SchedulerService, ServiceSettings, default_identity
from runner.scheduler.tables import DEFAULT_STORE, masked, open_store, store_errors
from runner.scheduler.triggers import blackout_at, next_fire_times, zone

log_level_option = click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)

log = logging.getLogger(__name__)

STORE_ENV = "DRILL_SCHEDULE_STORE"

store_option = click.option(
    "--store",
    "store_url",
    envvar=STORE_ENV,
    default=DEFAULT_STORE,
    show_default=True,
    help=f"SQLAlchemy URL of the job store and history (or ${STORE_ENV}); "
    "sqlite:///FILE or postgresql://...",
)
drills_option = click.option(
    "--drills",
    "drills",
    default="drills",
    show_default=True,
    type=click.Path(path_type=Path),
    help="A folder of drill files (or one drill file).",
)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    text.install_log_filter()  # secrets masked, control characters escaped
    # APScheduler logs every job lookup at INFO; keep the scheduler's own lines readable.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.root.level))


@click.group()
def group() -> None:
    """Run drills on their `spec.schedule`, and control the schedule."""


@group.command()
@drills_option
@store_option
@results_option
@click.option(
    "--metrics-port",
    default=9464,
    show_default=True,
    type=int,
    help="Port of /metrics, /healthz and /readyz (0: a free port).",
)
@click.option(
    "--metrics-address",
    default="127.0.0.1",
    show_default=True,
    help="Address of /metrics, /healthz and /readyz (0.0.0.0 in a pod, for the kubelet).",
)
@click.option(
    "--leader-election",
    type=click.Choice(["file", "lease", "none"]),
    default="file",
    show_default=True,
    help="How replicas agree on one active scheduler.",
)
@click.option(
    "--lock-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("results/scheduler.lock"),
    show_default=True,
    help="The lock of --leader-election file.",
)
@click.option("--namespace", default=None, help="Namespace of the Lease (--leader-election lease).")
@click.option(
    "--kubeconfig", default=None, help="For the Lease (default: in-cluster or $KUBECONFIG)."
)
@click.option("--context", "kube_context", default=None, help="Kube context for the Lease.")
@click.option("--lease-seconds", default=30, show_default=True, type=int)
@click.option(
    "--identity", default=None, help="This replica's name (default: $POD_NAME or host-pid)."
)
@click.option(
    "--poll-seconds",
    default=5.0,
    show_default=True,
    type=float,
    help="How often drill files, leadership and run-now requests are checked.",
)
@click.option(
    "--shutdown-grace",
    default=600.0,
    show_default=True,
    type=float,
    help="Seconds to wait on shutdown for aborted drills to clean up.",
)
@click.option(
    "--confirm-target",
    "confirmed",
    multiple=True,
    metavar="NAME",
    help="Let unattended runs use this protected target.",
)
@log_level_option
def serve(
    drills: Path,
    store_url: str,
    results_dir: Path,
    metrics_port: int,
    metrics_address: str,
    leader_election: str,
    lock_file: Path,
    namespace: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    lease_seconds: int,
    identity: str | None,
    poll_seconds: float,
    shutdown_grace: float,
    confirmed: tuple[str, ...],
    log_level: str,
) -> None:
    """Run the drills of DRILLS on their schedules until SIGTERM."""
    from runner.scheduler.endpoints import Endpoints

    _logging(log_level)
    _exists(drills)
    clock = SystemClock()
    me = identity or default_identity()
    leader = _leader(
        leader_election, me, clock, lock_file, namespace, kubeconfig, kube_context, lease_seconds
    )
    settings = ServiceSettings(
        drills=drills,
        store_url=store_url,
        poll_seconds=poll_seconds,
        shutdown_grace_seconds=shutdown_grace,
        firing=FiringSettings(
            results_dir=results_dir,
            operator=f"drillctl-schedule/{me}",
            confirmed_targets=frozenset(confirmed),
        ),
    )
    service = SchedulerService(settings, leader=leader, clock=clock, run=launching(clock))
    http = Endpoints(
        metrics=service.metrics.render, ready=service.ready, host=metrics_address, port=metrics_port
    ).start()
    log.info("serving /metrics, /healthz and /readyz on %s:%d", metrics_address, http.port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Only set a flag here: the serve loop does the shutdown outside the handler.
        service.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        clean = service.serve()
    finally:
        http.stop()
    sys.exit(exits.OK if clean else exits.RUNNER)


def _runnable(name: str, drills: Path, engine: Engine, store_url: str) -> None:
    """Refuse a run-now of a drill that neither the store nor the drill files know."""
    if any(job.drill == name for job in control.jobs(engine)):
        return
    catalog = Catalog(drills)
    if drills.exists():
        catalog.refresh()
    if name in catalog.entries:
        return
    problem = catalog.problem_of(name)
    if problem is not None:
        raise UsageError(f"drill {name!r} does not load:\n  " + "\n  ".join(problem.issues))
    raise UsageError(f"no drill named {name!r} in the store ({masked(store_url)}) or in {drills}")


def _exists(drills: Path) -> None:
    if not drills.exists():
        raise click.BadParameter(f"{drills} does not exist", param_hint="--drills")


def _leader(
    kind: str,
    identity: str,
    clock: SystemClock,
    lock_file: Path,
    namespace: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    lease_seconds: int,
) -> Leadership:
    if kind == "none":
        return SoleLeader(identity)
    if kind == "file":
        return FileLeader(lock_file, identity)
    if not namespace:
        raise click.UsageError("--leader-election lease needs --namespace")
    from runner.kube.client import client_for_target
    from runner.scenario.model import KubernetesTarget
    from runner.scheduler.lease import LeaseLeader

    in_cluster = (
        kubeconfig is None and kube_context is None and "KUBERNETES_SERVICE_HOST" in os.environ
    )
    target = KubernetesTarget(
        kubeconfig=kubeconfig, context=kube_context, in_cluster=in_cluster, namespace=namespace
    )
    client = client_for_target(target, cluster="scheduler", timeout=10)
    return LeaseLeader(
        client, namespace=namespace, identity=identity, clock=clock, lease_seconds=lease_seconds
    )


@group.command(name="list")
@drills_option
@store_option
def list_(drills: Path, store_url: str) -> None:
    """Show each scheduled drill: schedule, next run, blackouts, paused, problems, last result.

    Reads the store and the drill files only; never processes a job.
    """
    _exists(drills)
    now = SystemClock().now()
    catalog = Catalog(drills)
    catalog.refresh()
    engine = open_store(store_url)
    try:
        jobs = {j.drill: j for j in control.jobs(engine)}
        history = RunHistory(engine)
        names = sorted(set(catalog.scheduled()) | set(jobs))
        with store_errors(store_url):
            last = {name: history.last(name) for name in names}
    finally:
        engine.dispose()
    if not names:
        click.echo(f"no scheduled drills in {drills} or {masked(store_url)}")
    for name in names:
        described = _describe(name, catalog, jobs.get(name), last[name], now)
        click.echo("\n".join(text.line(row) for row in described))
    shown = set(names)
    for problem in sorted(catalog.problems.values(), key=lambda p: str(p.path)):
        if problem.drill not in shown:
            for issue in problem.issues:
                click.echo(f"error: {text.line(issue)}", err=True)


def _describe(
    name: str,
    catalog: Catalog,
    job: control.JobView | None,
    last: HistoryRow | None,
    now: datetime,
) -> list[str]:
    entry = catalog.scheduled().get(name)
    schedule = entry.schedule if entry is not None else None
    problem = catalog.problem_of(name)
    if schedule is not None:
        when = f"{schedule.cron} ({schedule.timezone})"
    elif job is not None:
        when = f"{job.trigger} (from the store; no drill file loads)"
    else:
        when = "(no drill file)"
    lines = [name, f"  schedule: {when}"]
    if job is None:
        upcoming = next_fire_times(schedule, now, 1) if schedule else []
        lines.append("  not in store yet" + (f", would run {_t(upcoming[0])}" if upcoming else ""))
    elif job.problem:
        lines.append(f"  {job.problem}")
    elif job.paused:
        lines.append("  PAUSED")
    else:
        lines.append(f"  next {_t(job.next_run)}" + _in_blackout(schedule, job.next_run))
    if schedule is not None:
        window = blackout_at(schedule, now)
        if window is not None:
            lines.append(
                f"  BLACKOUT {_escape(window.name or 'unnamed')!r} now, until "
                f"{_t(_bound(window.end, schedule))}: fires are skipped"
            )
    if problem is not None:
        if entry is not None:
            state = "another file defines this drill"
        else:
            state = (
                "a scheduler that loaded it before keeps its last good version; "
                "one that never did records its fires as skipped (invalid)"
            )
        lines.append(f"  PROBLEM: {problem.path} does not load ({state}):")
        lines += [f"    {_escape(issue)}" for issue in problem.issues[:10]]
        if len(problem.issues) > 10:
            lines.append(f"    ... and {len(problem.issues) - 10} more")
    lines.append(
        f"  last: {last.status} at {_t(last.finished_at)} ({_escape(last.reason)})"
        if last
        else "  last: never"
    )
    return lines


def _in_blackout(schedule: Schedule | None, at: datetime | None) -> str:
    window = blackout_at(schedule, at) if schedule is not None and at is not None else None
    if window is None:
        return ""
    return f" (inside blackout {_escape(window.name or 'unnamed')!r}: it will be skipped)"


def _bound(t: datetime, schedule: Schedule) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=zone(schedule))


def _escape(value: str) -> str:
    """User- and store-provided text on one terminal line (`runner.text.line`)."""
    return text.line(value)


def _t(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


@group.command()
@click.argument("name")
@store_option
def pause(name: str, store_url: str) -> None:
    """Pause a drill's schedule (kept across restarts)."""
    engine = open_store(store_url)
    try:
        control.pause(engine, name)
    finally:
        engine.dispose()
    click.echo(f"{name}: paused")


@group.command()
@click.argument("name")
@store_option
def resume(name: str, store_url: str) -> None:
    """Resume a paused drill; its next run counts from now."""
    engine = open_store(store_url)
    try:
        next_run = control.resume(engine, name, clock=SystemClock())
    finally:
        engine.dispose()
    click.echo(f"{name}: resumed, next run {_t(next_run)}")


@group.command(name="run-now")
@click.argument("name")
@store_option
@click.option(
    "--here",
    is_flag=True,
    help="Run in this process and wait (no scheduler needed; e.g. a CronJob).",
)
@drills_option
@results_option
@click.option("--confirm-target", "confirmed", multiple=True, metavar="NAME")
@log_level_option
def run_now(
    name: str,
    store_url: str,
    here: bool,
    drills: Path,
    results_dir: Path,
    confirmed: tuple[str, ...],
    log_level: str,
) -> None:
    """Run drill NAME now: ask the active scheduler, or with --here run it in this process."""
    clock = SystemClock()
    if not here:
        _request_run(name, store_url, drills, clock)
        return
    _logging(log_level)
    _exists(drills)
    settings = ServiceSettings(
        drills=drills,
        store_url=store_url,
        firing=FiringSettings(
            results_dir=results_dir,
            operator=f"drillctl-schedule/{default_identity()}",
            confirmed_targets=frozenset(confirmed),
        ),
    )
    service = SchedulerService(
        settings, leader=SoleLeader(default_identity()), clock=clock, run=launching(clock)
    )
    _run_here(service, name, drills)


def _request_run(name: str, store_url: str, drills: Path, clock: SystemClock) -> None:
    """Ask the active scheduler (through the store) to run drill `name` at its next tick."""
    engine = open_store(store_url)
    try:
        _runnable(name, drills, engine, store_url)
        with store_errors(store_url):
            request = RunRequests(engine).add(name, by=default_identity(), at=clock.now())
    finally:
        engine.dispose()
    click.echo(
        f"{name}: run requested (#{request}); the active scheduler starts it at its next tick"
    )


def _run_here(service: SchedulerService, name: str, drills: Path) -> None:
    """Fire drill `name` in this process (SIGTERM/SIGINT stop it), print the outcome and
    exit with its code."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        service.request_stop()  # only a flag: the abort is requested outside the handler

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.catalog.refresh()
    if name not in service.known():
        service.shutdown()
        problem = service.catalog.problem_of(name)
        if problem is not None:
            raise UsageError(f"drill {name!r} does not load:\n  " + "\n  ".join(problem.issues))
        raise UsageError(f"no drill named {name!r} in {drills}")
    outcome = service.fire_here(name)
    if isinstance(outcome, ev.DrillRunSkipped):
        click.echo(text.line(f"{name}: skipped ({outcome.reason}: {outcome.detail})"))
        sys.exit(exits.OK if outcome.reason == "blackout" else exits.RUNNER)
    click.echo(f"{name}: {outcome.status}")
    for r in outcome.results:
        click.echo(f"  {text.line(r.scenario)}: {text.line(r.status)} ({text.line(r.reason)})")
    from runner.journal.status import exit_code

    sys.exit(exit_code(outcome.status))  # the one status -> exit code map
