"""From files to a running drill: load and cross-check, bind targets, connect Prometheus, run.

Every front-end (CLI, pytest plugin, scheduler) starts drills through `launch`, so they
validate the same way and leave the same record.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.clock import Clock, SystemClock
from runner.dns_server import DnsServer
from runner.engine import events as ev
from runner.engine.drill import AbortSignal, DrillRun, RunResult, new_run_id
from runner.engine.metrics import Metrics
from runner.engine.targets import open_targets
from runner.errors import ConfigurationError, InvalidInputError, Issue, ProtectedTargetError
from runner.records import results
from runner.scenario import loader, model, references
from runner.scenario.secrets import resolve_secret
from runner.steps.dns import DnsConfig, DnsSteps, parse_server
from runner.steps.dns import record_issues as dns_record_issues
from runner.steps.generic import GenericStepExecutor, Prompt


@dataclass(frozen=True, kw_only=True)
class DrillRequest:
    """What to run, where, and on whose behalf."""

    scenario_path: Path
    drill_path: Path
    results_dir: Path = Path("results")
    operator: str = ""
    target_contexts: Mapping[str, str] = field(default_factory=dict)
    """--target NAME=CONTEXT: run against another kube context than the drill names."""
    interactive: bool = False
    approve_manual: bool = False
    run_id: str | None = None
    confirmed_targets: frozenset[str] = frozenset()
    """Protected targets confirmed by name for this run (typed at the prompt, or an option)."""
    confirm_option: str = "--confirm-target"
    """How the front-end's user confirms a target, for the refusal message."""
    loaded: tuple[model.Scenario, model.Drill] | None = None
    """The files as already loaded and checked (the scheduler's last good version): when
    given, they are not read again."""
    test_failover: bool = False
    """Run the scenario's test failover: nothing injected, production untouched (recipes say
    what they do instead; `Scenario.expansion.notes`)."""


def default_operator() -> str:
    return os.environ.get("DRILL_OPERATOR") or getpass.getuser()


def load(request: DrillRequest) -> tuple[model.Scenario, model.Drill]:
    """Load both files with every check; the scenario's clusters must be bound by the drill."""
    drill, _ = references.check_drill(request.drill_path)
    scenario = loader.load_scenario(request.scenario_path, test_failover=request.test_failover)
    targets = dict(drill.spec.targets)
    for name, context in request.target_contexts.items():
        if name not in targets:
            raise ConfigurationError(f"--target {name}={context}: the drill has no target {name!r}")
        kube = targets[name].kubernetes
        if kube is None:
            raise ConfigurationError(
                f"--target {name}={context}: {name!r} is not a Kubernetes target"
            )
        targets[name] = targets[name].model_copy(
            update={"kubernetes": kube.model_copy(update={"context": context})}
        )
    drill = drill.model_copy(update={"spec": drill.spec.model_copy(update={"targets": targets})})
    unbound = [c for c in scenario.cluster_names if c not in targets]
    if unbound:
        raise InvalidInputError(
            [
                Issue(
                    file=str(request.drill_path),
                    line=1,
                    column=1,
                    field="spec.targets",
                    message=f"scenario {scenario.name!r} needs cluster(s) {', '.join(unbound)}, "
                    "which this drill does not bind",
                )
            ]
        )
    return scenario, drill


def protected_targets(scenario: model.Scenario, drill: model.Drill) -> list[str]:
    return [c for c in scenario.cluster_names if drill.spec.targets[c].protected]


def refuse_unconfirmed(request: DrillRequest, scenario: model.Scenario, drill: model.Drill) -> None:
    """Raise ProtectedTargetError unless every protected target is confirmed by name.

    Every front-end starts runs through `launch`, which calls this before opening any
    target, so no entry point can touch a protected target without an explicit opt-in."""
    unconfirmed = [
        t for t in protected_targets(scenario, drill) if t not in request.confirmed_targets
    ]
    if unconfirmed:
        raise ProtectedTargetError(unconfirmed, request.confirm_option)


def connect_metrics(drill: model.Drill) -> Metrics | None:
    """The drill's Prometheus, as the engine's Metrics; None when the drill names none."""
    source = drill.spec.prometheus
    if source is None:
        return None
    from runner.engine.prometheus_metrics import PrometheusMetrics
    from runner.prom import PrometheusClient

    url = None
    if source.lab:
        from runner.lab.backend import lab_prometheus_url, lab_state_dir

        lab_targets = [t for t in drill.spec.targets.values() if t.lab is not None]
        if not lab_targets:
            raise ConfigurationError("prometheus: 'lab: true' needs a lab target in the drill")
        url = lab_prometheus_url(lab_state_dir(lab_targets[0]))
    prom = PrometheusClient.from_source(source, url=url)
    step = source.step.total_seconds() if source.step else None
    return PrometheusMetrics(prom, step=step)


def connect_dns(
    drill: model.Drill, scenario: model.Scenario, scenario_path: Path
) -> DnsSteps | None:
    """The drill's global DNS for `dns.*` steps (None when it names none). A DNS step whose
    record lies outside the zone is an InvalidInputError located in the scenario file."""
    source = drill.spec.dns
    if source is None:
        return None
    addresses = _target_addresses(drill)
    zone, servers, primary, key = _lab_dns(drill) if source.lab else _named_dns(source)
    found = dns_record_issues(
        scenario, loader.load_located(scenario_path, model.Scenario).source, zone
    )
    if found:
        raise InvalidInputError(found)
    secret = resolve_secret(key.secret, what=f"dns.tsigKey {key.name!r}")
    return DnsSteps(
        DnsConfig(
            zone=zone,
            servers=servers,
            primary=primary,
            key_name=key.name,
            algorithm=key.algorithm,
            secret=secret,
            timeout=source.timeout.total_seconds(),
            addresses=addresses,
        )
    )


_DnsServers = tuple[str, tuple[DnsServer, ...], DnsServer, model.TsigKey]
"""Zone, authoritative servers, the primary (for updates) and the TSIG key."""


def _lab_dns(drill: model.Drill) -> _DnsServers:
    """The running lab's DNS (`dns: {lab: true}`), found through the drill's first lab target."""
    from runner.lab.backend import lab_dns, lab_state_dir

    lab_targets = [t for t in drill.spec.targets.values() if t.lab is not None]
    if not lab_targets:
        raise ConfigurationError("dns: 'lab: true' needs a lab target in the drill")
    lab = lab_dns(lab_state_dir(lab_targets[0]))
    servers = tuple(parse_server(address, name) for name, address in lab.servers)
    key = model.TsigKey.model_validate(
        {"name": lab.key_name, "algorithm": lab.algorithm, "secret": {"file": str(lab.secret_file)}}
    )
    return lab.zone, servers, servers[0], key


def _named_dns(source: model.DnsSource) -> _DnsServers:
    """The DNS the drill names: its zone, servers, primary and key."""
    assert source.zone is not None and source.tsig_key is not None
    servers = tuple(parse_server(text, f"server-{i + 1}") for i, text in enumerate(source.servers))
    primary = parse_server(source.primary, "primary") if source.primary else servers[0]
    return source.zone.rstrip("."), servers, primary, source.tsig_key


def _target_addresses(drill: model.Drill) -> dict[str, tuple[str, ...]]:
    """Each target's addresses, as DNS answers name them (a lab site: its loopback address)."""
    addresses: dict[str, tuple[str, ...]] = {}
    for name, target in drill.spec.targets.items():
        if target.kubernetes is not None:
            addresses[name] = tuple(a for a in target.addresses if "/" not in a)
        elif target.lab is not None:
            from runner.lab.backend import lab_site_address, lab_state_dir

            addresses[name] = (lab_site_address(lab_state_dir(target), target.lab.site),)
    return addresses


def launch(
    request: DrillRequest,
    *,
    clock: Clock | None = None,
    abort: AbortSignal | None = None,
    on_event: ev.EventSink = lambda e: None,
    prompt: Prompt | None = None,
    manual_failback: Callable[[], bool] | None = None,
) -> RunResult:
    """Run one drill to its verdict. Raises only when the drill could not start at all.

    The results folder is checked (writable, room to write) and the run's folder reserved
    (a new id if the first is taken) before any target is opened; the folder of a run that
    could not start is removed again. `drillctl abort RUN_ID` reaches every run started
    here, whatever the entry point: the run's folder is watched for its `abort` file."""
    clock = clock or SystemClock()
    scenario, drill = request.loaded or load(request)
    refuse_unconfirmed(request, scenario, drill)
    results.prepare(request.results_dir)
    make_id = lambda: new_run_id(clock, scenario.name)  # noqa: E731
    run_id = results.reserve(request.results_dir, make_id, first=request.run_id)
    run_dir = request.results_dir / run_id
    abort = abort or AbortSignal()
    try:
        with (
            _abort_file_watched(run_dir, abort),
            open_targets(
                drill, drill_dir=request.drill_path.parent, only=set(scenario.cluster_names)
            ) as targets,
        ):
            metrics = connect_metrics(drill)
            generic = GenericStepExecutor(
                query=_instant_query(metrics, clock),
                prompt=prompt,
                dns=connect_dns(drill, scenario, request.scenario_path),
            )
            run_operator = request.operator or default_operator()
            run = DrillRun(
                scenario=scenario,
                scenario_path=request.scenario_path,
                drill=drill,
                drill_path=request.drill_path,
                targets=targets,
                metrics=metrics,
                generic_steps=generic,
                clock=clock,
                results_dir=request.results_dir,
                run_id=run_id,
                operator=run_operator,
                abort=abort,
                on_event=on_event,
                interactive=request.interactive,
                approve_manual=request.approve_manual,
                manual_failback=manual_failback,
                approvals=_protected_approvals(request, scenario, drill, run_operator),
            )
            return run.execute()
    finally:
        with contextlib.suppress(OSError):  # only an empty folder: a run that never started
            run_dir.rmdir()


def _protected_approvals(
    request: DrillRequest, scenario: model.Scenario, drill: model.Drill, operator: str
) -> tuple[dict[str, str], ...]:
    """The run's approvals: each protected target, confirmed by name for this run."""
    return tuple(
        {
            "what": "protected-target",
            "subject": name,
            "by": operator,
            "how": f"confirmed by name for this run ({request.confirm_option})",
        }
        for name in protected_targets(scenario, drill)
    )


@contextlib.contextmanager
def _abort_file_watched(run_dir: Path, abort: AbortSignal) -> Iterator[None]:
    """`watch_abort_file` in a thread for as long as the block runs."""
    stop = threading.Event()
    threading.Thread(
        target=watch_abort_file,
        args=(run_dir, abort, stop),
        name=f"abort-{run_dir.name}",
        daemon=True,
    ).start()
    try:
        yield
    finally:
        stop.set()


def watch_abort_file(run_dir: Path, abort: AbortSignal, stop: threading.Event) -> None:
    """`drillctl abort RUN_ID` writes results/<run-id>/abort: turn it into an abort of the
    run (until `stop` is set). `launch` runs it beside every run."""
    path = run_dir / "abort"
    while not stop.wait(0.5):
        if path.exists():
            try:
                reason = path.read_text().strip()
            except OSError:
                reason = ""
            abort.request(reason or "aborted with drillctl abort")
            return


def _instant_query(metrics: Metrics | None, clock: Clock) -> Callable[[str], float | None] | None:
    from runner.engine.prometheus_metrics import PrometheusMetrics

    if not isinstance(metrics, PrometheusMetrics):
        return None
    prom = metrics.prom

    def query(expr: str) -> float | None:
        values = prom.query(expr, clock.now())
        return values[0].value if len(values) == 1 else None

    return query
