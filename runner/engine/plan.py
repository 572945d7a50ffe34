"""What a run of a scenario will do, phase by phase, as the engine does it, and the one text
rendering of that plan.

`drillctl plan`, `drillctl run --dry-run` and the pytest plugin's dry run print
`render_plan`; the engine (`drill.py`) is the source of truth for the order, and
`tests/engine` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from runner.scenario import model
from runner.scenario.values import format_duration as fmt
from runner.text import line


def _step(s: model.Step) -> str:
    where = f" on {s.cluster}" if s.cluster else ""
    retries = f", {s.retries} retries" if s.retries else ""
    recipe = f"; recipe {s.origin.recipe}" if s.origin else ""
    return f"{s.name} ({s.action}{where}; timeout {fmt(s.timeout)}{retries}{recipe})"


def ordered_steps(scenario: model.Scenario) -> list[tuple[str, str]]:
    """(phase, what happens) in execution order."""
    spec = scenario.spec
    test = scenario.test_failover
    out: list[tuple[str, str]] = [
        ("preflight", "check every target (permissions, CRDs, lab running)"),
        ("preflight", "lock every target (one drill per target at a time)"),
    ]
    out += [("preflight", f"check {c.name} on {c.cluster}") for c in spec.preflight]
    out += [
        ("steady-state", f"gate: {c.name}: {c.query} {c.expect} over {fmt(c.window)}")
        for c in spec.steady_state
    ]
    out += [("baseline", _step(s)) for s in scenario.steps_of("baseline")]
    for f in sorted(spec.faults, key=lambda f: f.start_after):
        after = f" at +{fmt(f.start_after)}" if f.start_after.total_seconds() else ""
        lasts = f" for {fmt(f.duration)}" if f.duration is not None else ""
        if test:
            out.append(("inject", f"{f.type} {f.name!r} in {f.cluster}: NOT injected (test)"))
            continue
        out.append(
            ("inject", f"{f.type} {f.name!r} in {f.cluster}{lasts}{after}; wait until confirmed")
        )
    guard = ", watching guardrails" if spec.guardrails else ""
    out.append(("observe", f"wait {fmt(spec.timeouts.observe)}{guard}"))
    out += [("failover", _step(s)) for s in scenario.steps_of("failover")]
    out.append(("verify", _verify_text(scenario)))
    out.append(("recover-faults", "remove every injected fault and wait until gone"))
    policy = spec.failback.policy.value
    out += [(f"failback ({policy})", _step(s)) for s in scenario.steps_of("failback")]
    out += [("post-steady-state", f"{c.name}: {c.query} {c.expect}") for c in spec.steady_state]
    out.append(("cleanup", "remove any fault left; release every lock"))
    out.append(("report", "verdict, run.json, junit.xml"))
    return out


def _verify_text(scenario: model.Scenario) -> str:
    m = scenario.spec.measure
    parts = []
    if (m.rto is not None or m.rpo is not None) and not scenario.test_failover:
        parts.append(
            f"measure RTO and RPO from Prometheus (SLI must recover within "
            f"{fmt(scenario.spec.timeouts.recovery)})"
        )
    for kind in ("rto", "rpo"):
        span = getattr(m.spans, kind)
        if span is not None:
            parts.append(f"{kind.upper()} = {_instant(span.to)} - {_instant(span.from_)}")
    parts += [f"timing {t.name!r} = {_instant(t.to)} - {_instant(t.from_)}" for t in m.timings]
    return "; ".join(parts) or "nothing to measure"


def _instant(instant: model.Instant) -> str:
    if isinstance(instant, model.Window):
        return f"[{instant.earliest} .. {instant.latest}]"
    return instant


def render_plan(
    scenario: model.Scenario,
    drill: model.Drill,
    *,
    run_id: str | None = None,
    objects: Sequence[str] = (),
) -> str:
    """The plan as text: each cluster's target, `objects` (the lines of the exact objects,
    from `drillctl plan`), what a test failover changes, each recipe, every step in order
    and the objectives. Every scenario or drill value in it passes `text.line`."""
    named = f", run id {line(run_id)}" if run_id is not None else ""
    lines = [
        line(f"plan of {scenario.name} with drill {drill.name}")
        + f"{named}: nothing is created or injected",
        "",
        "targets:",
    ]
    for name in scenario.cluster_names:
        target = drill.spec.targets[name]
        guarded = "  [protected]" if target.protected else ""
        lines.append(line(f"  {name}: {_target(target)}") + guarded)
    lines += objects
    if scenario.test_failover:
        lines += ["", "test failover: nothing is injected; production stays as it is"]
        lines += [
            line(f"  {n.what}: {n.step} ({n.phase}): {n.reason}") for n in scenario.expansion.notes
        ]
    for r in scenario.expansion.recipes:
        lines += ["", line(f"recipe {r.recipe} (use {r.use!r}, {r.phase}; {r.file}):")]
        for title, items in (
            ("steps", r.steps),
            ("baseline", r.baseline),
            ("preflight checks", r.preflight),
            ("measures", r.measures),
        ):
            if items:
                lines.append(line(f"  {title}: " + "; ".join(items)))
    lines += ["", "steps:"]
    lines += [
        f"  {i:>2}. [{ph}] {line(what)}" for i, (ph, what) in enumerate(ordered_steps(scenario), 1)
    ]
    lines += ["", "objectives: " + _objectives(scenario.spec.objectives)]
    return "\n".join(lines)


def _target(target: model.Target) -> str:
    match target.kind:
        case "lab":
            assert target.lab is not None
            return f"lab site {target.lab.site}"
        case "kubernetes":
            assert target.kubernetes is not None
            return f"kube context {target.kubernetes.context or '(current)'}"
        case _:
            assert_never(target.kind)


def _objectives(objectives: model.Objectives) -> str:
    wanted = [
        f"{key} <= {fmt(value)}"
        for key, value in (("RTO", objectives.rto), ("RPO", objectives.rpo))
        if value is not None
    ]
    return ", ".join(wanted) or "none"
