"""Checks on a scenario that the model's types cannot express, each located in the file.

This module owns the rules that tie fields to each other inside one scenario: fault names
are unique, every cluster a fault or step names is declared, Kubernetes and lab steps say
which cluster they act on, `measure.from` names a fault, every measured query is PromQL the
measurement can read (no `offset` or `@`), a fault's peer is another cluster,
and a raw Chaos Mesh manifest is of a fault kind and matches the upstream CRD (see `crds`).
Rules that span files (a drill and its scenarios) live in `references`.
"""

from __future__ import annotations

from collections.abc import Iterator

from runner.errors import Issue
from runner.scenario import model, promql
from runner.scenario.source import Path_, Source, format_path

_PEER_FAULTS = (model.NetworkPartitionFault, model.ReplicationLagFault)
_CLUSTER_ACTIONS = model.KUBERNETES_ACTIONS | model.LAB_ACTIONS


class _Found:
    """Collects issues located in one source file."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.issues: list[Issue] = []

    def add(self, path: Path_, message: str) -> None:
        where = self.source.value_at(path)
        field = format_path(path)
        self.issues.append(
            Issue(
                file=self.source.file,
                line=where.line,
                column=where.column,
                field=field,
                message=message,
            )
        )

    def unique(self, named: list[tuple[Path_, str]], what: str) -> None:
        first: dict[str, Path_] = {}
        for path, name in named:
            if name in first:
                line = self.source.value_at(first[name]).line
                self.add(path, f"{what} name {name!r} is used twice (first at line {line})")
            else:
                first.setdefault(name, path)


def check_scenario(scenario: model.Scenario, source: Source) -> list[Issue]:
    """Every semantic problem of a scenario that already matches the model."""
    found = _Found(source)
    spec = scenario.spec
    declared = [c.name for c in spec.clusters]
    undeclared = "is not declared in spec.clusters (" + ", ".join(declared) + ")"
    found.unique(
        [(("spec", "clusters", i, "name"), c.name) for i, c in enumerate(spec.clusters)], "cluster"
    )
    found.unique(
        [(("spec", "faults", i, "name"), f.name) for i, f in enumerate(spec.faults)], "fault"
    )

    _check_faults(found, spec, declared, undeclared)
    _check_steps(found, scenario, declared, undeclared)
    _check_measure(found, spec)
    for i, check in enumerate(spec.preflight):
        if check.cluster not in declared:
            found.add(
                ("spec", "preflight", i, "cluster"), f"cluster {check.cluster!r} {undeclared}"
            )
    return sorted(found.issues, key=lambda i: (i.line, i.column))


def _check_faults(
    found: _Found, spec: model.ScenarioSpec, declared: list[str], undeclared: str
) -> None:
    """Each fault's cluster and peer are declared, a peer is another cluster, and a raw
    Chaos Mesh manifest fits its CRD."""
    for i, fault in enumerate(spec.faults):
        base: Path_ = ("spec", "faults", i)
        if fault.cluster not in declared:
            found.add((*base, "cluster"), f"cluster {fault.cluster!r} {undeclared}")
        if isinstance(fault, _PEER_FAULTS):
            if fault.peer not in declared:
                found.add((*base, "peer"), f"cluster {fault.peer!r} {undeclared}")
            elif fault.peer == fault.cluster:
                found.add((*base, "peer"), f"must name another cluster than {fault.cluster!r}")
        if isinstance(fault, model.ChaosMeshFault):
            from runner.scenario import crds

            for path, message in crds.raw_fault_problems(fault.manifest):
                found.add((*base, "manifest", *path), message)


def _check_steps(
    found: _Found, scenario: model.Scenario, declared: list[str], undeclared: str
) -> None:
    """Every cluster a step names is declared, and a step that acts on one names it."""
    for path, step in _steps(scenario):
        if step.cluster is not None and step.cluster not in declared:
            found.add((*path, "cluster"), f"cluster {step.cluster!r} {undeclared}")
        elif isinstance(step, model.RecipeUse):
            continue  # the recipe's steps are checked when it is expanded
        elif step.cluster is None and step.action in _CLUSTER_ACTIONS:
            found.add(
                (*path, "cluster"),
                f"missing required field 'cluster': a {step.action} step acts on one",
            )
        if isinstance(step, model.DnsUpdateStep | model.DnsWaitStep):
            key = "pointTo" if isinstance(step, model.DnsUpdateStep) else "expect"
            names = step.point_to if isinstance(step, model.DnsUpdateStep) else step.expect
            for i, name in enumerate(names):
                if name not in declared:
                    found.add((*path, key, i), f"cluster {name!r} {undeclared}")


def _check_measure(found: _Found, spec: model.ScenarioSpec) -> None:
    """Measured queries parse, failback measurements fit, each objective is measured one
    way, and `measure.from` names a fault."""
    for path, query in _measured_queries(spec):
        try:
            promql.shape(query)
        except promql.ExpressionError as e:
            found.add(path, str(e))
    for path, message in _failback_problems(spec):
        found.add(path, message)
    for kind in ("rto", "rpo"):
        if getattr(spec.measure, kind) is not None and getattr(spec.measure.spans, kind):
            found.add(
                ("spec", "measure", "spans", kind),
                f"the {kind.upper()} is measured by measure.{kind} already: measure it one way",
            )
    start = spec.measure.from_fault
    names = list(dict.fromkeys(f.name for f in spec.faults))
    if start is not None and start not in names:
        found.add(("spec", "measure", "from"), f"no fault is named {start!r} ({', '.join(names)})")


def check_drill(drill: model.Drill, source: Source) -> list[Issue]:
    """Every problem of a drill's own fields that the model's types cannot express: its
    schedule is checked by the parser the scheduler uses (`cron`)."""
    found = _Found(source)
    schedule = drill.spec.schedule
    if schedule is not None:
        from runner.scenario import cron

        for field, message in cron.problems(schedule):
            path: Path_ = ("spec", "schedule", *_parts(field))
            found.add(path, message)
    return sorted(found.issues, key=lambda i: (i.line, i.column))


def _parts(field: str) -> tuple[str | int, ...]:
    """`blackouts[0].end` as ("blackouts", 0, "end")."""
    parts: list[str | int] = []
    for piece in field.replace("]", "").split("."):
        name, _, index = piece.partition("[")
        parts.append(name)
        if index:
            parts.append(int(index))
    return tuple(parts)


def _failback_problems(spec: model.ScenarioSpec) -> Iterator[tuple[Path_, str]]:
    """Failback objectives and expectations need what measures them, and failback steps."""
    fb = spec.measure.failback
    objectives = spec.objectives.failback
    no_steps = not spec.failback.steps or spec.failback.policy == model.FailbackPolicy.NEVER
    if fb is not None and no_steps:
        yield (
            ("spec", "measure", "failback"),
            "measures failback, but the scenario never fails back",
        )
    split = None if fb is None else fb.split_brain
    if split is not None and split.from_step is not None:
        names = [st.name for st in spec.failover.steps]
        if split.from_step not in names:
            yield (
                ("spec", "measure", "failback", "splitBrain", "from"),
                f"no failover step is named {split.from_step!r}"
                f" ({', '.join(names) or 'there are none'})",
            )
    if spec.failback.expect.rejoin is not None and no_steps:
        yield ("spec", "failback", "expect", "rejoin"), "the scenario never fails back"
    if objectives is None:
        return
    base: Path_ = ("spec", "objectives", "failback")
    if no_steps:
        yield base, "failback objectives, but the scenario never fails back"
    if objectives.rto is not None and (fb is None or fb.rto is None) and spec.measure.rto is None:
        yield (*base, "rto"), "needs an SLI: measure.failback.rto or measure.rto"
    canary = None if fb is None else fb.canary
    if objectives.max_lost_writes is not None and canary is None:
        yield (*base, "maxLostWrites"), "needs measure.failback.canary"
    if objectives.rpo is not None and (
        canary is None or canary.acknowledged_time is None or canary.present_time is None
    ):
        yield (
            (*base, "rpo"),
            "needs measure.failback.canary with acknowledgedTime and presentTime",
        )
    if objectives.max_split_brain_writes is not None and (fb is None or fb.split_brain is None):
        yield (*base, "maxSplitBrainWrites"), "needs measure.failback.splitBrain"


def _canary_queries(base: Path_, c: model.CanaryMethod | None) -> Iterator[tuple[Path_, str]]:
    if c is None:
        return
    for name, query in (
        ("acknowledged", c.acknowledged),
        ("present", c.present),
        ("missing", c.missing),
        ("acknowledgedTime", c.acknowledged_time),
        ("presentTime", c.present_time),
    ):
        if query is not None:
            yield (*base, "canary", name), query


def _measured_queries(spec: model.ScenarioSpec) -> Iterator[tuple[Path_, str]]:
    """Every PromQL expression the measurements read, with its field path."""
    m = spec.measure
    if m.rto is not None:
        yield ("spec", "measure", "rto", "sli"), m.rto.sli
    if m.rpo is not None and m.rpo.lag is not None:
        yield ("spec", "measure", "rpo", "lag", "query"), m.rpo.lag.query
    if m.rpo is not None:
        yield from _canary_queries(("spec", "measure", "rpo"), m.rpo.canary)
    if (fb := m.failback) is not None:
        base: Path_ = ("spec", "measure", "failback")
        if fb.rto is not None:
            yield (*base, "rto", "sli"), fb.rto.sli
        yield from _canary_queries(base, fb.canary)
        if fb.split_brain is not None:
            yield (*base, "splitBrain", "acknowledged"), fb.split_brain.acknowledged
            if fb.split_brain.created is not None:
                yield (*base, "splitBrain", "created"), fb.split_brain.created


def _steps(scenario: model.Scenario) -> Iterator[tuple[Path_, model.Step | model.RecipeUse]]:
    """Every step as written (recipes not expanded yet), with its path."""
    for phase, steps in (
        ("baseline", scenario.spec.baseline.steps),
        ("failover", scenario.spec.failover.steps),
        ("failback", scenario.spec.failback.steps),
    ):
        for i, step in enumerate(steps):
            yield ("spec", phase, "steps", i), step
