"""What a dry run shows: each cluster's target, the faults, the steps and the objectives.

Built from the validated models only; nothing is opened, created or injected.
"""

from __future__ import annotations

from runner.scenario import model
from runner.scenario.values import format_duration as fmt


def _target(target: model.Target) -> str:
    if target.lab is not None:
        return f"lab site {target.lab.site}"
    if target.kubernetes is not None:
        kube = target.kubernetes
        return f"kube context {kube.context or '(current)'}"
    return "?"


def render_plan(scenario: model.Scenario, drill: model.Drill) -> str:
    spec = scenario.spec
    lines = [f"dry run of {scenario.name} with drill {drill.name}: nothing is injected", ""]
    lines.append("targets:")
    for name in scenario.cluster_names:
        lines.append(f"  {name}: {_target(drill.spec.targets[name])}")
    lines.append("faults:")
    for f in spec.faults:
        after = f" after {fmt(f.start_after)}" if f.start_after.total_seconds() else ""
        lasting = f" for {fmt(f.duration)}" if f.duration is not None else ""
        lines.append(f"  {f.name}: {f.type} on {f.cluster}{after}{lasting}")
    for title, steps in (
        ("baseline", scenario.steps_of("baseline")),
        ("failover", scenario.steps_of("failover")),
        (f"failback ({spec.failback.policy.value})", scenario.steps_of("failback")),
    ):
        lines.append(f"{title}:")
        lines += [f"  {s.name}: {s.action} on {s.cluster or '-'}" for s in steps] or ["  (none)"]
    objectives = spec.objectives
    wanted = [
        f"{key} <= {fmt(value)}"
        for key, value in (("RTO", objectives.rto), ("RPO", objectives.rpo))
        if value is not None
    ]
    lines.append("objectives: " + (", ".join(wanted) or "none"))
    return "\n".join(lines)
