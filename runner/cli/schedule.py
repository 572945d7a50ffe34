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
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from runner.cli import exits
from runner.cli.options import results_option
from runner.clock import SystemClock
from runner.errors import UsageError
from runner.scheduler import control
from runner.scheduler import events as ev
from runner.scheduler.catalog import Catalog
from runner.scheduler.firing import FiringSettings, launching
from runner.scheduler.history import RunHistory
from runner.scheduler.leader import FileLeader, Leadership, SoleLeader
from runner.scheduler.requests import RunRequests
from runner.scheduler.service import SchedulerService, ServiceSettings, default_identity
from runner.scheduler.tables import DEFAULT_STORE, masked, open_store
from runner.scheduler.triggers import next_fire_times

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
@click.option("--metrics-address", default="0.0.0.0", show_default=True)
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
    """Show each scheduled drill: schedule, next run, paused, last result."""
    _exists(drills)
    engine = open_store(store_url)
    catalog = Catalog(drills)
    catalog.refresh()
    jobs = {j.drill: j for j in control.jobs(engine)}
    history = RunHistory(engine)
    now = SystemClock().now()
    names = sorted(set(catalog.scheduled()) | set(jobs))
    if not names:
        click.echo(f"no scheduled drills in {drills} or {masked(store_url)}")
    for name in names:
        entry = catalog.scheduled().get(name)
        job = jobs.get(name)
        schedule = entry.schedule if entry is not None else None
        when = f"{schedule.cron} ({schedule.timezone})" if schedule else "(no drill file)"
        if job is None:
            upcoming = next_fire_times(schedule, now, 1) if schedule else []
            state = "not in store yet" + (f", would run {_t(upcoming[0])}" if upcoming else "")
        elif job.paused:
            state = "PAUSED"
        else:
            state = f"next {_t(job.next_run)}"
        last = history.last(name)
        last_text = f"{last.status} at {_t(last.finished_at)} ({last.reason})" if last else "never"
        click.echo(f"{name}\n  schedule: {when}\n  {state}\n  last: {last_text}")
    for path, error in sorted(catalog.errors.items()):
        click.echo(f"error: {path}: {error}", err=True)
    engine.dispose()


def _t(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


@group.command()
@click.argument("name")
@store_option
def pause(name: str, store_url: str) -> None:
    """Pause a drill's schedule (kept across restarts)."""
    engine = open_store(store_url)
    control.pause(engine, name)
    engine.dispose()
    click.echo(f"{name}: paused")


@group.command()
@click.argument("name")
@store_option
def resume(name: str, store_url: str) -> None:
    """Resume a paused drill; its next run counts from now."""
    engine = open_store(store_url)
    next_run = control.resume(engine, name)
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
        engine = open_store(store_url)
        request = RunRequests(engine).add(name, by=default_identity(), at=clock.now())
        engine.dispose()
        click.echo(
            f"{name}: run requested (#{request}); the active scheduler starts it at its next tick"
        )
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

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()  # only a flag: the abort is requested below, outside the handler

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.catalog.refresh()
    if name not in service.known():
        service.shutdown()
        problems = "".join(f"\n  {p}: {e}" for p, e in sorted(service.catalog.errors.items()))
        raise UsageError(f"no drill named {name!r} in {drills}{problems}")
    future = service.firer.submit(name, clock.now(), ev.Trigger.RUN_NOW)
    while not future.done():
        if stop.wait(1.0):
            log.warning("stopping: the drill aborts, removes its faults and fails back first")
            break
    service.shutdown()  # aborts a run still going, then waits for its cleanup
    outcome = future.result()
    if isinstance(outcome, ev.DrillRunSkipped):
        click.echo(f"{name}: skipped ({outcome.reason}: {outcome.detail})")
        sys.exit(exits.OK if outcome.reason == "blackout" else exits.RUNNER)
    click.echo(f"{name}: {outcome.status}")
    for r in outcome.results:
        click.echo(f"  {r.scenario}: {r.status} ({r.reason})")
    sys.exit({"passed": exits.OK, "failed": exits.MISSED}.get(outcome.status, exits.RUNNER))
